// A transport moves bytes to and from one device. It knows nothing of
// firmware: framing into lines and dialects live in the connection and
// protocols/. A new transport is one file plus one entry in index.ts.

import type { ResolvedConfiguration } from '../configuration.js'
import type { ConnectionTarget } from '../connection-string.js'

export interface TransportErrorFlags {
  canceled?: boolean
  disconnected?: boolean
  timedOut?: boolean
}

/** What a transport rejects or closes with: an OS code where one exists, plus flags. */
export class TransportError extends Error {
  readonly code: string
  readonly canceled: boolean
  readonly disconnected: boolean
  readonly timedOut: boolean
  constructor(message: string, code: string, flags: TransportErrorFlags = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'TransportError'
    this.code = code
    this.canceled = flags.canceled ?? false
    this.disconnected = flags.disconnected ?? false
    this.timedOut = flags.timedOut ?? false
  }
}

export interface Transport {
  /** Rejects with a TransportError carrying the OS code (ENOENT, EACCES, ECONNREFUSED, EINVAL, ...). */
  open(): Promise<void>
  write(data: Buffer): Promise<void>
  /** Idempotent; pending writes reject with `{ canceled: true }`; onClose listeners are not called. */
  close(): Promise<void>
  onData(listener: (chunk: Buffer) => void): void
  /** Called once when the link drops by itself (not after close()). */
  onClose(listener: (err?: TransportError) => void): void
}

/**
 * Resolves a host once and checks it against the outbound policy; a network
 * transport connects to the address it answers (never to the name again),
 * so what was checked is what is reached. Rejects when the policy refuses.
 */
export type ResolveAddress = (host: string, port: number) => Promise<{ address: string }>

export interface TransportFactory {
  create(target: ConnectionTarget, config: ResolvedConfiguration): Transport
  /**
   * A transport whose far end speaks messages rather than a byte stream (MQTT)
   * pins the protocol that understands its framing.
   */
  readonly protocol?: string
}

/** Turns whatever a library threw into a TransportError with a code. */
export function toTransportError(
  err: unknown,
  fallbackCode: string,
  flags: TransportErrorFlags = {},
): TransportError {
  if (err instanceof TransportError) return err
  const e = err as { message?: string; code?: unknown } | undefined
  const message = e?.message ?? String(err)
  const code = typeof e?.code === 'string' ? e.code : (codeFromMessage(message) ?? fallbackCode)
  return new TransportError(message, code, flags, err)
}

// @serialport/bindings-cpp reports open failures as strerror text without a
// code; these are the strerror strings glibc uses for the codes we report.
const STRERROR_CODES: [RegExp, string][] = [
  [/no such file or directory/i, 'ENOENT'],
  [/permission denied/i, 'EACCES'],
  [/device or resource busy/i, 'EBUSY'],
  [/invalid argument/i, 'EINVAL'],
  // serialport's own check of the options, before any syscall.
  [/baudrate|not a valid/i, 'EINVAL'],
  [/inappropriate ioctl/i, 'ENOTTY'],
  [/connection refused/i, 'ECONNREFUSED'],
  [/not a directory/i, 'ENOTDIR'],
]

function codeFromMessage(message: string): string | undefined {
  return STRERROR_CODES.find(([re]) => re.test(message))?.[1]
}
