// `script`: runs a program on the server. Admin-only (the service checks the
// role). The child gets its own process group so that a timeout or cancel
// kills everything it started, not only the shell on top.

import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { Type } from '@sinclair/typebox'
import { spawnIdentity } from '../../../process/child-user.js'
import { identify } from '../../../process/identity.js'
import { checked, isObject, payloadErrors, wholeNumber } from './check.js'
import { buildScriptEnv } from './env.js'
import {
  type Action,
  type ActionContext,
  type ActionOutcome,
  ActionTimeout,
  abortFlags,
  abortMessage,
} from './types.js'

export interface ScriptPayload {
  /** argv array, or one string run by /bin/sh when `shell` is true. */
  command: string[] | string
  shell?: boolean
  cwd?: string
  env?: Record<string, string>
  timeoutMs?: number
  /** Wait between SIGTERM and SIGKILL to the group (default 2000). */
  killGraceMs?: number
  /** Exit codes that count as success (default [0]). */
  okExitCodes?: number[]
}

const DAY_MS = 86_400_000
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/** After the main process exits, how long stdout/stderr may stay open before we stop reading. */
const DRAIN_MS = 1000

export const ScriptPayloadSchema = Type.Object(
  {
    command: Type.Union([Type.Array(Type.String({ 'x-message': 'must be a string' })), Type.String()], {
      description: 'argv array such as ["ls", "-l"], or one string run by /bin/sh -c when shell is true',
      'x-message': 'must be an argv array of strings, or a string with shell: true',
      'x-required-message': 'is required: an argv array such as ["ls", "-l"]',
    }),
    shell: Type.Optional(
      Type.Boolean({
        description: 'run command with /bin/sh -c',
        'x-message': 'must be true or false, got {got}',
      }),
    ),
    cwd: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: '^/',
        description: "absolute working directory (default: the child user's home, or /)",
        'x-message': 'must be an absolute path, got {got}',
      }),
    ),
    env: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: Type.String({ 'x-message': 'must be a string, got {got}' }),
          description:
            'extra environment variables (names: letters, digits and _, not starting with a digit)',
          'x-message': 'must be an object of strings, got {got}',
        },
      ),
    ),
    timeoutMs: Type.Optional(Type.Integer(wholeNumber(1, DAY_MS))),
    killGraceMs: Type.Optional(
      Type.Integer(wholeNumber(0, 60_000, 'SIGTERM to SIGKILL of the group (default 2000)')),
    ),
    okExitCodes: Type.Optional(
      Type.Array(
        Type.Integer({ minimum: 0, maximum: 255, 'x-message': 'must be an exit code 0-255, got {got}' }),
        {
          minItems: 1,
          description: 'exit codes that count as success (default [0])',
          'x-message': 'must be a non-empty array of exit codes',
        },
      ),
    ),
  },
  { additionalProperties: false, title: 'ScriptPayload' },
)

function validate(payload: unknown) {
  const errors = payloadErrors(ScriptPayloadSchema, payload)
  if (!isObject(payload)) return checked<ScriptPayload>(errors, payload)
  const rule = (path: string, message: string) => errors.push({ path, message })
  const shell = payload.shell === true
  const command = payload.command
  if (typeof command === 'string') {
    if (!shell)
      rule('command', 'a string runs only with shell: true; pass an argv array such as ["ls", "-l"] instead')
    else if (command.trim() === '') rule('command', 'must not be empty')
  } else if (Array.isArray(command)) {
    if (shell) rule('command', 'with shell: true, command must be one string for /bin/sh -c')
    if (command.length === 0) rule('command', 'must not be empty')
    command.forEach((arg, i) => {
      if (typeof arg !== 'string') return
      if (i === 0 && arg.trim() === '') rule('command[0]', 'must name a program')
      else if (arg.includes('\0')) rule(`command[${i}]`, 'must not contain NUL')
    })
  }
  if (isObject(payload.env)) {
    for (const name of Object.keys(payload.env)) {
      if (!ENV_NAME.test(name))
        rule(`env.${name}`, 'name must be letters, digits and _ (not starting with a digit)')
    }
  }
  return checked<ScriptPayload>(errors, payload)
}

/** Splits a stream into lines for the log; stderr lines get a prefix. */
function lineWriter(ctx: ActionContext, prefix: string) {
  let partial = ''
  return {
    push(chunk: string) {
      const text = partial + chunk
      const lines = text.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) ctx.log.line(prefix + line)
    },
    flush() {
      if (partial !== '') ctx.log.line(prefix + partial)
      partial = ''
    },
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: the group is already gone.
  }
}

async function run(payload: ScriptPayload, ctx: ActionContext): Promise<ActionOutcome> {
  const shell = payload.shell === true
  const argv = shell ? ['/bin/sh', '-c', payload.command as string] : (payload.command as string[])
  const [program, ...args] = argv
  // Validation refuses an empty command; a payload that skipped it fails here, not in spawn.
  if (program === undefined) return { ok: false, error: 'command must not be empty' }
  const okCodes = payload.okExitCodes ?? [0]
  const graceMs = payload.killGraceMs ?? 2000
  if (ctx.signal.aborted) {
    return { ok: false, error: abortMessage(ctx.signal), ...abortFlags(ctx.signal) }
  }
  if (payload.cwd) {
    const info = await stat(payload.cwd).catch(() => undefined)
    if (!info?.isDirectory()) {
      const error = `cwd ${payload.cwd} is not a directory`
      ctx.log.line(error)
      return { ok: false, error }
    }
  }
  const own = new AbortController()
  const timer =
    payload.timeoutMs === undefined
      ? undefined
      : setTimeout(() => own.abort(new ActionTimeout(payload.timeoutMs as number)), payload.timeoutMs)
  const signal = AbortSignal.any([ctx.signal, own.signal])
  ctx.log.line(
    `$ ${shell ? payload.command : argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`,
  )

  const workspace = ctx.services.childWorkspace
  const env = buildScriptEnv(payload.env, { taskId: ctx.taskId, runId: ctx.runId })
  // Another user's HOME and working directory, not the server's (often /root, 0700).
  if (workspace && payload.env?.HOME === undefined) {
    if (workspace.home) env.HOME = workspace.home
    else delete env.HOME
  }
  const child = spawn(program, args, {
    cwd: payload.cwd ?? workspace?.cwd,
    env,
    ...spawnIdentity(ctx.services.childUser),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // Recorded before anything else can happen to it: a server killed from here on
  // leaves a group the next one can recognise and end (see the engine's reaper).
  const recorded =
    child.pid === undefined || !ctx.processStarted
      ? Promise.resolve()
      : ctx.processStarted(identify(child.pid)).catch((e: Error) => {
          ctx.log.line(`could not record the process for crash recovery: ${e.message}`)
        })
  const out = lineWriter(ctx, '')
  const err = lineWriter(ctx, '[stderr] ')
  child.stdout.setEncoding('utf8').on('data', (s: string) => out.push(s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => err.push(s))

  let killTimer: NodeJS.Timeout | undefined
  const onAbort = () => {
    if (child.pid === undefined) return
    killGroup(child.pid, 'SIGTERM')
    killTimer = setTimeout(() => killGroup(child.pid as number, 'SIGKILL'), graceMs)
  }
  signal.addEventListener('abort', onAbort, { once: true })
  // Aborted while spawning (an abort listener added late never fires).
  if (signal.aborted) onAbort()

  try {
    const exit = await new Promise<
      { code: number | null; signal: NodeJS.Signals | null } | { spawnError: Error }
    >((resolve) => {
      child.once('error', (e) => resolve({ spawnError: e }))
      child.once('exit', (code, sig) => resolve({ code, signal: sig }))
    })
    if ('spawnError' in exit) {
      const error = `could not start ${program}: ${exit.spawnError.message}`
      ctx.log.line(error)
      return { ok: false, error }
    }
    // The run ends with its main process; whatever it left in its group goes too.
    if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL')
    await recorded
    await drain(child)
    out.flush()
    err.flush()
    if (signal.aborted) {
      const flags = abortFlags(signal)
      const error = `${flags.timedOut ? 'timed out' : 'canceled'}: process group killed (${exit.signal ?? `exit code ${exit.code}`})`
      ctx.log.line(error)
      return { ok: false, error, timedOut: flags.timedOut, canceled: flags.canceled }
    }
    if (exit.code === null) {
      const error = `killed by ${exit.signal}`
      ctx.log.line(error)
      return { ok: false, error }
    }
    const ok = okCodes.includes(exit.code)
    ctx.log.line(`exit code ${exit.code}`)
    return ok ? { ok } : { ok, error: `exit code ${exit.code}` }
  } finally {
    signal.removeEventListener('abort', onAbort)
    clearTimeout(timer)
    clearTimeout(killTimer)
  }
}

/** Waits for stdout/stderr to close; a grandchild that escaped the group may hold them, so not forever. */
function drain(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.stdout?.closed !== false && child.stderr?.closed !== false) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.stdout?.destroy()
      child.stderr?.destroy()
      resolve()
    }, DRAIN_MS)
    child.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

export const scriptAction: Action<ScriptPayload> = {
  type: 'script',
  payloadSchema: ScriptPayloadSchema,
  // It runs programs on the server.
  requiredRole: () => ({ role: 'admin', what: 'run scripts' }),
  validate,
  run,
}
