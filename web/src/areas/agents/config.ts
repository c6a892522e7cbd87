// The agent form <-> the agent's `configuration` object. The supervisor's own
// keys (command, cwd, env, restartPolicy, maxRestarts, stopTimeoutMs,
// healthCheck, maxMemoryMb, runtime) get fields; every other key belongs to the
// agent and is edited as JSON, and kept as it was when untouched.

import type { Problem } from '../../api/problem.js'
import { EMPTY_RUNTIME, type RuntimeFormValues, runtimeFormFrom, runtimeFromForm } from './runtime-form.js'

export interface AgentFormValues extends RuntimeFormValues {
  name: string
  type: string
  command: string
  cwd: string
  /** KEY=value, one a line */
  env: string
  restartPolicy: 'on-failure' | 'always' | 'never'
  maxRestarts: string
  stopTimeoutMs: string
  healthType: 'none' | 'http' | 'heartbeat'
  healthUrl: string
  healthIntervalMs: string
  healthTimeoutMs: string
  maxMemoryMb: string
  /** The agent's own keys as a JSON object */
  extra: string
}

const SUPERVISOR_KEYS = [
  'command',
  'cwd',
  'env',
  'restartPolicy',
  'maxRestarts',
  'stopTimeoutMs',
  'healthCheck',
  'maxMemoryMb',
  'runtime',
]

export const EMPTY_FORM: AgentFormValues = {
  name: '',
  type: '',
  command: '',
  cwd: '',
  env: '',
  restartPolicy: 'on-failure',
  maxRestarts: '',
  stopTimeoutMs: '',
  healthType: 'none',
  healthUrl: '',
  healthIntervalMs: '',
  healthTimeoutMs: '',
  maxMemoryMb: '',
  extra: '',
  ...EMPTY_RUNTIME,
}

/** An argv array as one line a person can edit; the server splits it back like a shell would. */
export function joinCommand(argv: unknown): string {
  if (typeof argv === 'string') return argv
  if (!Array.isArray(argv)) return ''
  return argv
    .map((a) => {
      const s = String(a)
      return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
    })
    .join(' ')
}

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v))

export function formFromAgent(agent: {
  name: string
  type: string
  configuration: Record<string, unknown>
}): AgentFormValues {
  const c = agent.configuration ?? {}
  const health = (c.healthCheck ?? null) as Record<string, unknown> | null
  const env = (c.env ?? {}) as Record<string, unknown>
  const extra = Object.fromEntries(Object.entries(c).filter(([k]) => !SUPERVISOR_KEYS.includes(k)))
  const runtime = runtimeFormFrom(c.runtime)
  return {
    ...runtime.values,
    name: agent.name,
    type: agent.type,
    command: joinCommand(c.command),
    // A container's working directory is inside it (runtime.workingDir): the same field.
    cwd: runtime.workingDir ?? str(c.cwd),
    env: Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    restartPolicy: (c.restartPolicy as AgentFormValues['restartPolicy']) ?? 'on-failure',
    maxRestarts: str(c.maxRestarts),
    stopTimeoutMs: str(c.stopTimeoutMs),
    healthType: health?.type === 'http' || health?.type === 'heartbeat' ? health.type : 'none',
    healthUrl: str(health?.url),
    healthIntervalMs: str(health?.intervalMs),
    healthTimeoutMs: str(health?.timeoutMs),
    maxMemoryMb: str(c.maxMemoryMb),
    extra: Object.keys(extra).length ? JSON.stringify(extra, null, 2) : '',
  }
}

/** A problem of the console's own making, shown like the server's, next to its field. */
function local(path: string, message: string): Problem {
  return {
    type: 'about:blank',
    title: 'Check the form',
    status: 400,
    detail: `${path} ${message}`,
    errors: [{ path, message }],
  }
}

function numberOrUndefined(value: string, path: string): number | undefined {
  if (value.trim() === '') return undefined
  const n = Number(value)
  // The server checks the range; here only that it is a number at all.
  if (!Number.isFinite(n)) throw local(path, `must be a number, got "${value}"`)
  return n
}

/** The request body's fields, or a Problem naming the field that cannot be read. */
export function configurationFromForm(v: AgentFormValues): {
  name: string
  type?: string
  configuration: Record<string, unknown>
} {
  let extra: Record<string, unknown> = {}
  if (v.extra.trim()) {
    try {
      extra = JSON.parse(v.extra)
    } catch (err) {
      throw local('extra', `is not valid JSON: ${(err as Error).message}`)
    }
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
      throw local('extra', 'must be a JSON object')
    }
  }
  const env: Record<string, string> = {}
  for (const [i, raw] of v.env.split('\n').entries()) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw local('env', `line ${i + 1} must be KEY=value, got "${line}"`)
    env[line.slice(0, eq).trim()] = line.slice(eq + 1)
  }
  const configuration: Record<string, unknown> = { ...extra }
  const runtime = runtimeFromForm(v, v.cwd, local, numberOrUndefined)
  if (runtime) {
    // A container takes its command and directory from runtime (top-level ones are refused).
    configuration.runtime = runtime
  } else {
    if (v.command.trim()) configuration.command = v.command.trim()
    if (v.cwd.trim()) configuration.cwd = v.cwd.trim()
  }
  if (Object.keys(env).length) configuration.env = env
  configuration.restartPolicy = v.restartPolicy
  const maxRestarts = numberOrUndefined(v.maxRestarts, 'maxRestarts')
  if (maxRestarts !== undefined) configuration.maxRestarts = maxRestarts
  const stopTimeoutMs = numberOrUndefined(v.stopTimeoutMs, 'stopTimeoutMs')
  if (stopTimeoutMs !== undefined) configuration.stopTimeoutMs = stopTimeoutMs
  const maxMemoryMb = numberOrUndefined(v.maxMemoryMb, 'maxMemoryMb')
  if (maxMemoryMb !== undefined) configuration.maxMemoryMb = maxMemoryMb
  if (v.healthType === 'http') {
    configuration.healthCheck = {
      type: 'http',
      url: v.healthUrl.trim(),
      ...(v.healthIntervalMs.trim() && {
        intervalMs: numberOrUndefined(v.healthIntervalMs, 'healthCheck.intervalMs'),
      }),
      ...(v.healthTimeoutMs.trim() && {
        timeoutMs: numberOrUndefined(v.healthTimeoutMs, 'healthCheck.timeoutMs'),
      }),
    }
  } else if (v.healthType === 'heartbeat') {
    configuration.healthCheck = {
      type: 'heartbeat',
      ...(v.healthTimeoutMs.trim() && {
        timeoutMs: numberOrUndefined(v.healthTimeoutMs, 'healthCheck.timeoutMs'),
      }),
    }
  }
  return { name: v.name.trim(), ...(v.type.trim() && { type: v.type.trim() }), configuration }
}
