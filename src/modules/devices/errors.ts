// Device-area errors. Driver errors carry flags (canceled, disconnected,
// timedOut, reset) so the service branches on flags, never on message text.

import { ConflictError, flaggedError, MyntrixError, TimeoutError } from '../../errors.js'

/** A port or socket could not be opened; `code` is the OS code (ENOENT, EACCES, ECONNREFUSED, ...). */
export class DeviceOpenError extends MyntrixError {
  readonly status = 502
  readonly type = 'device-open-failed'
  readonly code: string
  readonly reason: string
  constructor(target: string, code: string, reason: string, cause?: unknown) {
    super(`cannot open ${target}: ${code} (${reason})`, { cause })
    this.code = code
    this.reason = reason
  }
}

/** The command did not complete because the link dropped, was closed, or the firmware reset. */
export class DeviceCommandError extends flaggedError(502, 'device-command-failed', [
  'canceled',
  'disconnected',
  'reset',
]) {}

/** No completion within the time allowed; the connection stays usable. */
export class DeviceTimeoutError extends TimeoutError {
  readonly timedOut = true
  constructor(target: string, command: string, waitedMs: number) {
    super(`device ${target} gave no reply to "${command}" within ${waitedMs} ms`)
  }
}

/** A command was sent to a device that is not connected. */
export class DeviceNotConnectedError extends ConflictError {
  readonly disconnected = true
  constructor(target: string, status: string) {
    super(`device ${target} is not connected (status ${status})`)
  }
}
