// `device`: send one command to a device, or stream a stored file to it. The
// devices area implements DeviceControl.

import { Type } from '@sinclair/typebox'
import { checked, isObject, nonEmpty, payloadErrors } from './check.js'
import { type Action, type ActionContext, type ActionOutcome, abortFlags, failureOf } from './types.js'

export type DevicePayload = { deviceId: string; command: string } | { deviceId: string; fileId: string }

/** `command` or `fileId`, not both (a rule below: the document shows both as optional). */
export const DevicePayloadSchema = Type.Object(
  {
    deviceId: Type.String({ ...nonEmpty(200, 'the device'), 'x-required-message': 'is required' }),
    command: Type.Optional(
      Type.String({
        ...nonEmpty(4096, 'one line sent to the device; or give fileId'),
        'x-message': 'must be a non-empty string of at most 4096 characters, got {got}',
      }),
    ),
    fileId: Type.Optional(
      Type.String(nonEmpty(200, 'a stored file streamed to the device; or give command')),
    ),
  },
  { additionalProperties: false, title: 'DevicePayload' },
)

function validate(payload: unknown) {
  const errors = payloadErrors(DevicePayloadSchema, payload)
  if (isObject(payload)) {
    const { command, fileId } = payload
    if (command !== undefined && fileId !== undefined) {
      errors.push({ path: 'fileId', message: 'give either command or fileId, not both' })
    } else if (command === undefined && fileId === undefined) {
      errors.push({ path: 'command', message: 'is required (or fileId, to stream a stored file)' })
    } else if (typeof command === 'string' && /[\r\n]/.test(command)) {
      errors.push({ path: 'command', message: 'must be one line (no CR or LF); stream a file for several' })
    }
  }
  return checked<DevicePayload>(errors, payload)
}

async function run(payload: DevicePayload, ctx: ActionContext): Promise<ActionOutcome> {
  const fail = failureOf(ctx)
  const devices = ctx.services.devices
  if (!devices) return fail('device control is not available in this server')
  const opts = { actor: ctx.actor, signal: ctx.signal }
  try {
    if ('command' in payload) {
      ctx.log.line(`> ${payload.command}`)
      const { reply } = await devices.command(payload.deviceId, payload.command, opts)
      for (const line of reply) ctx.log.line(`< ${line}`)
      return { ok: true }
    }
    ctx.log.line(`sending file ${payload.fileId} to device ${payload.deviceId}`)
    let lastLogged = -1
    const result = await devices.sendFile(payload.deviceId, payload.fileId, {
      ...opts,
      onProgress: (percent) => {
        // One line per 10 % keeps the log short for long prints.
        const step = Math.floor(percent / 10) * 10
        if (step > lastLogged) {
          lastLogged = step
          ctx.log.line(`progress ${step}%`)
        }
      },
    })
    ctx.log.line(`file sent${result.linesSent === undefined ? '' : ` (${result.linesSent} lines)`}`)
    return { ok: true }
  } catch (err) {
    if (ctx.signal.aborted)
      return fail(`device action aborted: ${(err as Error).message}`, abortFlags(ctx.signal))
    const flags = err as { timedOut?: boolean }
    return fail(`device action failed: ${(err as Error).message}`, flags.timedOut ? { timedOut: true } : {})
  }
}

export const deviceAction: Action<DevicePayload> = {
  type: 'device',
  payloadSchema: DevicePayloadSchema,
  validate,
  requiredRole: () => null,
  run,
}
