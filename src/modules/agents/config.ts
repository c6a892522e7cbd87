// The supervisor's part of an agent's `configuration`. The keys below are read by
// Myntrix; every other key belongs to the agent and reaches it as JSON in
// MYNTRIX_AGENT_CONFIG. Their shape is one TypeBox schema, checked by the agents
// routes (and so described in the OpenAPI document) and by the service, in the
// words below (src/validation.ts); beside it only the rules a schema cannot state.

import { type Static, Type } from '@sinclair/typebox'
import type { FieldError } from '../../errors.js'
import { describeValue, schemaErrors } from '../../validation.js'
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

/** Refuses NUL, which no program argument, path or environment value can carry. */
const NO_NUL = '^[^\\u0000]*$'
const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]*$'

/** A whole number in a LIMITS range, in the supervisor's words (`maxRestarts must be >= 0, got -1`). */
function integerIn(name: string, key: keyof typeof LIMITS, options: Record<string, unknown> = {}) {
  const { min, max } = LIMITS[key]
  return Type.Integer({
    minimum: min,
    maximum: max,
    'x-message': {
      type: `${name} must be an integer, got {got}`,
      minimum: `${name} must be >= ${min}, got {got}`,
      maximum: `${name} must be <= ${max}, got {got}`,
    },
    ...options,
  })
}

/** A health check's kind: what tells the two shapes apart. */
const checkType = <T extends string>(type: T) =>
  Type.Literal(type, { 'x-message': 'type must be "http" or "heartbeat", got {got}' })

/** A check's fields are all known: an unknown one is refused, not dropped (a misspelt interval would be ignored). */
const closedCheck = (type: string) => ({
  additionalProperties: Type.Never({ 'x-message': `unknown healthCheck field {field} for type ${type}` }),
})

export const HttpHealthCheckSchema = Type.Object(
  {
    type: checkType('http'),
    url: Type.String({
      pattern: '^https?://',
      description: 'GET this URL; a 2xx answer is healthy',
      'x-message': 'url must be an http(s) URL, got {got}',
      'x-required-message': 'url must be an http(s) URL, got undefined',
    }),
    intervalMs: Type.Optional(
      integerIn('intervalMs', 'intervalMs', { default: CONFIG_DEFAULTS.httpIntervalMs }),
    ),
    timeoutMs: Type.Optional(integerIn('timeoutMs', 'timeoutMs', { default: CONFIG_DEFAULTS.httpTimeoutMs })),
  },
  closedCheck('http'),
)

export const HeartbeatHealthCheckSchema = Type.Object(
  {
    type: checkType('heartbeat'),
    timeoutMs: integerIn('timeoutMs', 'timeoutMs', {
      description: 'the agent prints the line {"myntrix":"heartbeat"} on stdout at least this often',
      'x-required-message': 'timeoutMs is required for a heartbeat check',
    }),
  },
  closedCheck('heartbeat'),
)

const ArgumentSchema = Type.String({
  pattern: NO_NUL,
  'x-message': { type: 'argument must be a string, got {got}', pattern: 'argument must not contain NUL' },
})

/**
 * The supervisor's keys, checked (routes and service alike); every other key is
 * the agent's own and passes through. Defaults are documented here and applied
 * by normalizeAgentConfig: Ajv fills none inside the routes' nullable union, and
 * the service checks a copy, so a stored configuration stays as written.
 */
export const AgentConfigurationSchema = Type.Object(
  {
    command: Type.Optional(
      Type.Union(
        [
          Type.String({ minLength: 1, 'x-message': { minLength: 'command must not be empty' } }),
          Type.Array(ArgumentSchema, { minItems: 1, 'x-message': { minItems: 'command must not be empty' } }),
        ],
        {
          description: 'argv array, or a string split like a shell would, but run without one',
          'x-message': { anyOf: 'command must be an argv array or a string, got {got}' },
        },
      ),
    ),
    cwd: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: NO_NUL,
        description: 'working directory of the process',
        'x-message': 'cwd must be a non-empty path, got {got}',
      }),
    ),
    env: Type.Optional(
      Type.Record(
        Type.String({ pattern: ENV_NAME }),
        Type.String({
          pattern: NO_NUL,
          'x-message': {
            type: 'env value must be a string, got {got}',
            pattern: 'env value must not contain NUL',
          },
        }),
        {
          description: 'added to the environment of the process',
          additionalProperties: Type.Never({
            'x-message': 'env name must match [A-Za-z_][A-Za-z0-9_]*, got {field}',
          }),
          'x-message': { type: 'env must be an object of strings, got {got}' },
        },
      ),
    ),
    restartPolicy: Type.Optional(
      Type.Union(
        RESTART_POLICIES.map((p) => Type.Literal(p)),
        {
          default: CONFIG_DEFAULTS.restartPolicy,
          'x-message': `restartPolicy must be one of ${RESTART_POLICIES.join(', ')}, got {got}`,
        },
      ),
    ),
    maxRestarts: Type.Optional(
      integerIn('maxRestarts', 'maxRestarts', {
        default: CONFIG_DEFAULTS.maxRestarts,
        description: 'restarts allowed within restartWindowMs before the agent is left in error',
      }),
    ),
    restartWindowMs: Type.Optional(
      integerIn('restartWindowMs', 'restartWindowMs', { default: CONFIG_DEFAULTS.restartWindowMs }),
    ),
    stopTimeoutMs: Type.Optional(
      integerIn('stopTimeoutMs', 'stopTimeoutMs', {
        default: CONFIG_DEFAULTS.stopTimeoutMs,
        description: 'SIGTERM, then SIGKILL after this long',
      }),
    ),
    healthCheck: Type.Optional(
      Type.Union([HttpHealthCheckSchema, HeartbeatHealthCheckSchema], {
        'x-message': { anyOf: 'healthCheck must be an object, got {got}' },
      }),
    ),
    maxMemoryMb: Type.Optional(
      Type.Number({
        ...rangeOf('maxMemoryMb'),
        description: 'restart the agent when its process tree uses more memory than this',
        'x-message': {
          type: 'maxMemoryMb must be a number, got {got}',
          minimum: `maxMemoryMb must be between ${LIMITS.maxMemoryMb.min} and ${LIMITS.maxMemoryMb.max}, got {got}`,
          maximum: `maxMemoryMb must be between ${LIMITS.maxMemoryMb.min} and ${LIMITS.maxMemoryMb.max}, got {got}`,
        },
      }),
    ),
    runtime: Type.Optional(RuntimeConfigSchema),
  },
  {
    additionalProperties: true,
    description: "every key not listed is the agent's own and reaches it as JSON in MYNTRIX_AGENT_CONFIG",
  },
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

/**
 * Checks an agent configuration: the schema, then the rules. Returns one entry
 * per problem with a dotted path like the rest of the API
 * (`configuration.healthCheck.url` with basePath "configuration"); an empty
 * array means valid.
 */
export function validateAgentConfig(value: unknown, basePath = ''): FieldError[] {
  if (value === undefined || value === null) return []
  if (!isPlainObject(value)) {
    return [
      {
        path: basePath || '(configuration)',
        message: `configuration must be an object, got ${describeValue(value)}`,
      },
    ]
  }
  // A copy: the check drops what a closed schema does not know, and the stored configuration stays as written.
  const shape = schemaErrors(AgentConfigurationSchema, structuredClone(value), basePath)
  return [...shape, ...configurationRuleErrors(value, basePath, shape)]
}

/**
 * What the schema cannot state, for a configuration object whose schema errors
 * are `shape` (the route's or the service's): a command string must split
 * into a program, a program name is not empty, Myntrix's own variables are not
 * overridden, a health check's URL parses, and a container takes its command
 * and directory in `runtime`, with mounts that are allowed.
 */
export function configurationRuleErrors(
  c: Record<string, unknown>,
  basePath = '',
  shape: readonly FieldError[] = [],
): FieldError[] {
  const errors: FieldError[] = []
  const at = (key: string) => (basePath ? `${basePath}.${key}` : key)
  const fine = (key: string) => !shape.some((e) => e.path === at(key) || e.path.startsWith(`${at(key)}.`))
  if (typeof c.command === 'string' && c.command !== '') {
    try {
      if (splitCommand(c.command).length === 0) {
        errors.push({ path: at('command'), message: 'command must not be empty' })
      }
    } catch (err) {
      if (!(err instanceof CommandSyntaxError)) throw err
      errors.push({ path: at('command'), message: `command cannot be split: ${err.message}` })
    }
  } else if (Array.isArray(c.command) && c.command[0] === '') {
    errors.push({ path: `${at('command')}.0`, message: 'program name must not be empty' })
  }
  if (isPlainObject(c.env)) {
    for (const k of ['MYNTRIX_AGENT_ID', 'MYNTRIX_AGENT_CONFIG']) {
      if (Object.hasOwn(c.env, k)) {
        errors.push({ path: `${at('env')}.${k}`, message: `${k} is set by Myntrix and cannot be overridden` })
      }
    }
  }
  const hc = c.healthCheck
  if (isPlainObject(hc) && hc.type === 'http' && typeof hc.url === 'string' && fine('healthCheck')) {
    if (!URL.canParse(hc.url)) {
      errors.push({
        path: `${at('healthCheck')}.url`,
        message: `url must be an http(s) URL, got ${describeValue(hc.url)}`,
      })
    }
  }
  if (isPlainObject(c.runtime) && fine('runtime')) {
    errors.push(...mountErrors(c.runtime as DockerRuntimeConfig, [], at('runtime')))
    if (c.command !== undefined) {
      errors.push({ path: at('command'), message: 'a container agent takes its command as runtime.command' })
    }
    if (c.cwd !== undefined) {
      errors.push({ path: at('cwd'), message: 'a container agent takes its directory as runtime.workingDir' })
    }
  }
  return errors
}

/**
 * Applies defaults to a configuration that passed validateAgentConfig. Throws a
 * TypeError on invalid input: validate first.
 */
export function normalizeAgentConfig(value: unknown): SupervisedConfig {
  const errors = validateAgentConfig(value)
  if (errors.length > 0)
    throw new TypeError(`invalid agent configuration: ${errors[0].path} ${errors[0].message}`)
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
