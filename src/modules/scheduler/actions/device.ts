// `device`: send one command to a device, or stream a stored file to it. The
// devices area implements DeviceControl.

import { Checker } from './check.js'
import { type Action, type ActionContext, type ActionOutcome, abortFlags } from './types.js'

export type DevicePayload = { deviceId: string; command: string } | { deviceId: string; fileId: string }

function validate(payload: unknown) {
  const c = new Checker()
  const obj = c.object(payload, ['deviceId', 'command', 'fileId'])
  if (!obj) return { ok: false as const, errors: c.errors }
  c.string(obj, 'deviceId', { required: true, maxLength: 200 })
  const command = obj.command
  if (command !== undefined && obj.fileId !== undefined) {
    c.add('fileId', 'give either command or fileId, not both')
  } else if (command === undefined && obj.fileId === undefined) {
    c.add('command', 'is required (or fileId, to stream a stored file)')
  } else if (command !== undefined) {
    if (typeof command !== 'string' || command.trim() === '') c.add('command', 'must be a non-empty string')
    else if (command.length > 4096) c.add('command', `must be at most 4096 characters, got ${command.length}`)
    else if (/[\r\n]/.test(command))
      c.add('command', 'must be one line (no CR or LF); stream a file for several')
  } else c.string(obj, 'fileId', { required: true, maxLength: 200 })
  return c.errors.length > 0
    ? { ok: false as const, errors: c.errors }
    : { ok: true as const, value: obj as unknown as DevicePayload }
}

async function run(payload: DevicePayload, ctx: ActionContext): Promise<ActionOutcome> {
  const fail = (error: string, flags: { timedOut?: boolean; canceled?: boolean } = {}): ActionOutcome => {
    ctx.log.line(error)
    return { ok: false, error, ...flags }
  }
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

export const deviceAction: Action<DevicePayload> = { type: 'device', validate, run }
