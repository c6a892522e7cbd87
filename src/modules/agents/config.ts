// The supervisor's part of an agent's `configuration`. The keys below are read by
// Myntrix; every other key belongs to the agent and reaches it as JSON in
// MYNTRIX_AGENT_CONFIG.

import { type Static, Type } from '@sinclair/typebox'
import type { FieldError } from '../../errors.js'
import { schemaErrors } from '../../validation.js'
import { CommandSyntaxError, splitCommand } from './command.js'
import {
  containerSpecOf,
  type DockerRuntimeConfig,
  mountErrors,
  RuntimeConfigSchema,
} from './runtime-config.js'
import type { ContainerSpec } from './runtimes/types.js'

export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const
export type RestartPolicy = (typeof RESTART_POLICIES)[number]

export const CONFIG_DEFAULTS = {
  restartPolicy: 'on-failure' as RestartPolicy,
  maxRestarts: 5,
  restartWindowMs: 60_000,
  stopTimeoutMs: 10_000,
  httpIntervalMs: 5_000,
  httpTimeoutMs: 2_000,
}

/** Keys the supervisor consumes; they are not passed on in MYNTRIX_AGENT_CONFIG. */
export const SUPERVISOR_KEYS = [
  'command',
  'cwd',
  'env',
  'restartPolicy',
  'maxRestarts',
  'restartWindowMs',
  'stopTimeoutMs',
  'healthCheck',
  'maxMemoryMb',
  'runtime',
] as const

const LIMITS = {
  maxRestarts: { min: 0, max: 1000 },
  restartWindowMs: { min: 100, max: 86_400_000 },
  stopTimeoutMs: { min: 0, max: 600_000 },
  intervalMs: { min: 100, max: 86_400_000 },
  timeoutMs: { min: 50, max: 600_000 },
  maxMemoryMb: { min: 1, max: 1_048_576 },
}

export const HttpHealthCheckSchema = Type.Object(
  {
    type: Type.Literal('http'),
    url: Type.String({ pattern: '^https?://', description: 'GET this URL; a 2xx answer is healthy' }),
    intervalMs: Type.Optional(
      Type.Integer({ minimum: LIMITS.intervalMs.min, default: CONFIG_DEFAULTS.httpIntervalMs }),
    ),
    timeoutMs: Type.Optional(
      Type.Integer({ minimum: LIMITS.timeoutMs.min, default: CONFIG_DEFAULTS.httpTimeoutMs }),
    ),
  },
  { additionalProperties: false },
)

export const HeartbeatHealthCheckSchema = Type.Object(
  {
    type: Type.Literal('heartbeat'),
    timeoutMs: Type.Integer({
      minimum: LIMITS.timeoutMs.min,
      description: 'the agent prints the line {"myntrix":"heartbeat"} on stdout at least this often',
    }),
  },
  { additionalProperties: false },
)

export const AgentConfigurationSchema = Type.Object(
  {
    command: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String(), { minItems: 1 })], {
        description: 'argv array, or a string split like a shell would, but run without one',
      }),
    ),
    cwd: Type.Optional(Type.String({ minLength: 1 })),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), {
        additionalProperties: false,
      }),
    ),
    restartPolicy: Type.Optional(
      Type.Union(
        RESTART_POLICIES.map((p) => Type.Literal(p)),
        { default: CONFIG_DEFAULTS.restartPolicy },
      ),
    ),
    maxRestarts: Type.Optional(
      Type.Integer({ ...rangeOf('maxRestarts'), default: CONFIG_DEFAULTS.maxRestarts }),
    ),
    restartWindowMs: Type.Optional(
      Type.Integer({ ...rangeOf('restartWindowMs'), default: CONFIG_DEFAULTS.restartWindowMs }),
    ),
    stopTimeoutMs: Type.Optional(
      Type.Integer({ ...rangeOf('stopTimeoutMs'), default: CONFIG_DEFAULTS.stopTimeoutMs }),
    ),
    healthCheck: Type.Optional(Type.Union([HttpHealthCheckSchema, HeartbeatHealthCheckSchema])),
    maxMemoryMb: Type.Optional(Type.Number(rangeOf('maxMemoryMb'))),
  },
  { additionalProperties: true },
)

export type AgentConfiguration = Static<typeof AgentConfigurationSchema> & Record<string, unknown>

export type HealthCheckConfig =
  | { type: 'http'; url: string; intervalMs: number; timeoutMs: number }
  | { type: 'heartbeat'; timeoutMs: number }

/** A validated configuration with defaults applied: what the supervisor runs. */
export interface SupervisedConfig {
  /** null when the agent has no command (it can exist, but not start). */
  argv: string[] | null
  cwd: string | null
  env: Record<string, string>
  restartPolicy: RestartPolicy
  maxRestarts: number
  restartWindowMs: number
  stopTimeoutMs: number
  healthCheck: HealthCheckConfig | null
  maxMemoryMb: number | null
  /** Set for an agent that runs in a container (configuration.runtime of type docker). */
  container: ContainerSpec | null
  /** The agent's own keys, passed to it as MYNTRIX_AGENT_CONFIG. */
  own: Record<string, unknown>
}

function rangeOf(key: keyof typeof LIMITS): { minimum: number; maximum: number } {
  return { minimum: LIMITS[key].min, maximum: LIMITS[key].max }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)
  if (typeof v === 'object') return 'an object'
  return String(v)
}

function checkInteger(
  errors: FieldError[],
  path: string,
  name: string,
  v: unknown,
  range: { min: number; max: number },
): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    errors.push({ path, message: `${name} must be an integer, got ${describe(v)}` })
  } else if (v < range.min) {
    errors.push({ path, message: `${name} must be >= ${range.min}, got ${v}` })
  } else if (v > range.max) {
    errors.push({ path, message: `${name} must be <= ${range.max}, got ${v}` })
  }
}

/**
 * Checks an agent configuration. Returns one entry per problem with a dotted path
 * like the rest of the API (`configuration.healthCheck.url` with basePath
 * "configuration"); an empty array means valid.
 */
export function validateAgentConfig(value: unknown, basePath = ''): FieldError[] {
  const errors: FieldError[] = []
  const at = (key: string) => (basePath ? `${basePath}.${key}` : key)
  if (value === undefined || value === null) return errors
  if (!isPlainObject(value)) {
    return [
      {
        path: basePath || '(configuration)',
        message: `configuration must be an object, got ${describe(value)}`,
      },
    ]
  }
  const c = value

  if (c.command !== undefined) {
    if (typeof c.command === 'string') {
      try {
        if (splitCommand(c.command).length === 0) {
          errors.push({ path: at('command'), message: 'command must not be empty' })
        }
      } catch (err) {
        if (!(err instanceof CommandSyntaxError)) throw err
        errors.push({ path: at('command'), message: `command cannot be split: ${err.message}` })
      }
    } else if (Array.isArray(c.command)) {
      if (c.command.length === 0) errors.push({ path: at('command'), message: 'command must not be empty' })
      c.command.forEach((arg, i) => {
        if (typeof arg !== 'string') {
          errors.push({
            path: `${at('command')}.${i}`,
            message: `argument must be a string, got ${describe(arg)}`,
          })
        } else if (arg.includes('\0')) {
          errors.push({ path: `${at('command')}.${i}`, message: 'argument must not contain NUL' })
        }
      })
      if (c.command.length > 0 && c.command[0] === '') {
        errors.push({ path: `${at('command')}.0`, message: 'program name must not be empty' })
      }
    } else {
      errors.push({
        path: at('command'),
        message: `command must be an argv array or a string, got ${describe(c.command)}`,
      })
    }
  }

  if (c.cwd !== undefined && (typeof c.cwd !== 'string' || c.cwd === '' || c.cwd.includes('\0'))) {
    errors.push({ path: at('cwd'), message: `cwd must be a non-empty path, got ${describe(c.cwd)}` })
  }

  if (c.env !== undefined) {
    if (!isPlainObject(c.env)) {
      errors.push({ path: at('env'), message: `env must be an object of strings, got ${describe(c.env)}` })
    } else {
      for (const [k, v] of Object.entries(c.env)) {
        const p = `${at('env')}.${k}`
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
          errors.push({ path: p, message: `env name must match [A-Za-z_][A-Za-z0-9_]*, got ${describe(k)}` })
        } else if (k === 'MYNTRIX_AGENT_ID' || k === 'MYNTRIX_AGENT_CONFIG') {
          errors.push({ path: p, message: `${k} is set by Myntrix and cannot be overridden` })
        }
        if (typeof v !== 'string') {
          errors.push({ path: p, message: `env value must be a string, got ${describe(v)}` })
        } else if (v.includes('\0')) {
          errors.push({ path: p, message: 'env value must not contain NUL' })
        }
      }
    }
  }

  if (c.restartPolicy !== undefined && !RESTART_POLICIES.includes(c.restartPolicy as RestartPolicy)) {
    errors.push({
      path: at('restartPolicy'),
      message: `restartPolicy must be one of ${RESTART_POLICIES.join(', ')}, got ${describe(c.restartPolicy)}`,
    })
  }
  if (c.maxRestarts !== undefined) {
    checkInteger(errors, at('maxRestarts'), 'maxRestarts', c.maxRestarts, LIMITS.maxRestarts)
  }
  if (c.restartWindowMs !== undefined) {
    checkInteger(errors, at('restartWindowMs'), 'restartWindowMs', c.restartWindowMs, LIMITS.restartWindowMs)
  }
  if (c.stopTimeoutMs !== undefined) {
    checkInteger(errors, at('stopTimeoutMs'), 'stopTimeoutMs', c.stopTimeoutMs, LIMITS.stopTimeoutMs)
  }
  if (c.maxMemoryMb !== undefined) {
    const v = c.maxMemoryMb
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      errors.push({ path: at('maxMemoryMb'), message: `maxMemoryMb must be a number, got ${describe(v)}` })
    } else if (v < LIMITS.maxMemoryMb.min || v > LIMITS.maxMemoryMb.max) {
      errors.push({
        path: at('maxMemoryMb'),
        message: `maxMemoryMb must be between ${LIMITS.maxMemoryMb.min} and ${LIMITS.maxMemoryMb.max}, got ${v}`,
      })
    }
  }
  if (c.healthCheck !== undefined) validateHealthCheck(errors, c.healthCheck, at('healthCheck'))
  if (c.runtime !== undefined) validateRuntime(errors, c, at)
  return errors
}

/** configuration.runtime; a container's command and working directory are its own fields. */
function validateRuntime(
  errors: FieldError[],
  c: Record<string, unknown>,
  at: (key: string) => string,
): void {
  const shape = schemaErrors(RuntimeConfigSchema, structuredClone(c.runtime), at('runtime'))
  if (shape.length > 0) {
    errors.push(...shape)
    return
  }
  if (c.runtime === 'process') return
  errors.push(...mountErrors(c.runtime as DockerRuntimeConfig, [], at('runtime')))
  if (c.command !== undefined) {
    errors.push({ path: at('command'), message: 'a container agent takes its command as runtime.command' })
  }
  if (c.cwd !== undefined) {
    errors.push({ path: at('cwd'), message: 'a container agent takes its directory as runtime.workingDir' })
  }
}

function validateHealthCheck(errors: FieldError[], hc: unknown, path: string): void {
  if (!isPlainObject(hc)) {
    errors.push({ path, message: `healthCheck must be an object, got ${describe(hc)}` })
    return
  }
  const allowed = hc.type === 'http' ? ['type', 'url', 'intervalMs', 'timeoutMs'] : ['type', 'timeoutMs']
  if (hc.type === 'http') {
    let ok = typeof hc.url === 'string'
    if (ok) {
      try {
        const u = new URL(hc.url as string)
        ok = u.protocol === 'http:' || u.protocol === 'https:'
      } catch {
        ok = false
      }
    }
    if (!ok) {
      errors.push({ path: `${path}.url`, message: `url must be an http(s) URL, got ${describe(hc.url)}` })
    }
    if (hc.intervalMs !== undefined) {
      checkInteger(errors, `${path}.intervalMs`, 'intervalMs', hc.intervalMs, LIMITS.intervalMs)
    }
    if (hc.timeoutMs !== undefined) {
      checkInteger(errors, `${path}.timeoutMs`, 'timeoutMs', hc.timeoutMs, LIMITS.timeoutMs)
    }
  } else if (hc.type === 'heartbeat') {
    if (hc.timeoutMs === undefined) {
      errors.push({ path: `${path}.timeoutMs`, message: 'timeoutMs is required for a heartbeat check' })
    } else {
      checkInteger(errors, `${path}.timeoutMs`, 'timeoutMs', hc.timeoutMs, LIMITS.timeoutMs)
    }
  } else {
    errors.push({
      path: `${path}.type`,
      message: `type must be "http" or "heartbeat", got ${describe(hc.type)}`,
    })
    return
  }
  for (const key of Object.keys(hc)) {
    if (!allowed.includes(key)) {
      errors.push({
        path: `${path}.${key}`,
        message: `unknown healthCheck field "${key}" for type ${hc.type}`,
      })
    }
  }
}

/**
 * Applies defaults to a configuration that passed validateAgentConfig. Throws a
 * TypeError on invalid input: validate first.
 */
export function normalizeAgentConfig(value: unknown): SupervisedConfig {
  const [error] = validateAgentConfig(value)
  if (error) throw new TypeError(`invalid agent configuration: ${error.path} ${error.message}`)
  const c = (value ?? {}) as Record<string, unknown>
  const own: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(c)) {
    if (!(SUPERVISOR_KEYS as readonly string[]).includes(k)) own[k] = v
  }
  const runtime = c.runtime as DockerRuntimeConfig | 'process' | undefined
  let argv: string[] | null = null
  if (typeof c.command === 'string') argv = splitCommand(c.command)
  else if (Array.isArray(c.command)) argv = [...(c.command as string[])]
  // A container always has something to run: its command, or the image's own.
  if (runtime && runtime !== 'process') argv = [...(runtime.command ?? [])]
  let healthCheck: HealthCheckConfig | null = null
  const hc = c.healthCheck as Record<string, unknown> | undefined
  if (hc?.type === 'http') {
    healthCheck = {
      type: 'http',
      url: hc.url as string,
      intervalMs: (hc.intervalMs as number | undefined) ?? CONFIG_DEFAULTS.httpIntervalMs,
      timeoutMs: (hc.timeoutMs as number | undefined) ?? CONFIG_DEFAULTS.httpTimeoutMs,
    }
  } else if (hc?.type === 'heartbeat') {
    healthCheck = { type: 'heartbeat', timeoutMs: hc.timeoutMs as number }
  }
  return {
    argv,
    cwd: (c.cwd as string | undefined) ?? null,
    env: {
      ...((c.env as Record<string, string> | undefined) ?? {}),
      ...(runtime && runtime !== 'process' ? runtime.env : {}),
    },
    restartPolicy: (c.restartPolicy as RestartPolicy | undefined) ?? CONFIG_DEFAULTS.restartPolicy,
    maxRestarts: (c.maxRestarts as number | undefined) ?? CONFIG_DEFAULTS.maxRestarts,
    restartWindowMs: (c.restartWindowMs as number | undefined) ?? CONFIG_DEFAULTS.restartWindowMs,
    stopTimeoutMs: (c.stopTimeoutMs as number | undefined) ?? CONFIG_DEFAULTS.stopTimeoutMs,
    healthCheck,
    maxMemoryMb: (c.maxMemoryMb as number | undefined) ?? null,
    container: containerSpecOf(runtime),
    own,
  }
}
