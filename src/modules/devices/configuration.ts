// A device's `configuration` object. Its TypeBox schema is the one statement
// of the known keys: the routes take it as the body's `configuration` (so the
// OpenAPI document describes every key) and the service and the connection
// check stored or given values against it (src/validation.ts). Unknown keys
// are kept as they are (device-specific settings the operator wants stored),
// so the API returns what was given; the schema sets no defaults for the same
// reason, they are filled in only when a connection resolves its settings.

import { type Static, Type } from '@sinclair/typebox'
import type { FieldError } from '../../errors.js'
import { refuseErrors, schemaErrors } from '../../validation.js'
import {
  COMMAND_TIMEOUT_KEY_PATTERN,
  MAX_COMMAND_TIMEOUT_MS,
  MIN_COMMAND_TIMEOUT_MS,
} from '../firmware/command-timeouts.js'
import { type ConnectionTarget, DEFAULT_BAUD_RATE, MAX_BAUD, MIN_BAUD } from './connection-string.js'

export const PROTOCOL_NAMES = ['line', 'jsonl', 'marlin', 'grbl'] as const
export type ProtocolName = (typeof PROTOCOL_NAMES)[number]
export const TEMPERATURE_REPORT_MODES = ['auto', 'autoreport', 'poll', 'off'] as const
export type TemperatureReportMode = (typeof TEMPERATURE_REPORT_MODES)[number]
const LINE_ENDINGS = ['\n', '\r\n'] as const
const QOS_LEVELS = [0, 1, 2] as const

// One `enum` keyword rather than a union of literals: a wrong value is then one
// error ("must be one of ...") at its path, not one per literal.
const oneOf = <T extends string | number>(values: readonly T[], description: string) =>
  Type.Unsafe<T>({
    type: typeof values[0] === 'number' ? 'integer' : 'string',
    enum: [...values],
    description,
  })
const integer = (minimum: number, maximum: number, description: string) =>
  Type.Integer({ minimum, maximum, description })

const MIN_STATUS_POLL_MS = 20
/** Below this a device that reports every few hundred ms would flap between online and offline. */
const MIN_AVAILABILITY_TIMEOUT_MS = 100

export const DeviceConfigurationSchema = Type.Object(
  {
    protocol: Type.Optional(
      oneOf(PROTOCOL_NAMES, 'default line (sim:// uses its firmware); MQTT devices always speak MQTT'),
    ),
    baudRate: Type.Optional(integer(MIN_BAUD, MAX_BAUD, `serial; default ${DEFAULT_BAUD_RATE}`)),
    autoReconnect: Type.Optional(
      Type.Boolean({ description: 'reopen after an unexpected drop, with backoff; default true' }),
    ),
    reconnectDelayMs: Type.Optional(integer(10, 600_000, 'first reconnect delay; default 1000')),
    reconnectMaxDelayMs: Type.Optional(
      integer(10, 3_600_000, 'the delay doubles up to this; >= reconnectDelayMs; default 30000'),
    ),
    commandTimeoutMs: Type.Optional(integer(1, 3_600_000, 'for a command without timeoutMs; default 10000')),
    connectTimeoutMs: Type.Optional(integer(1, 600_000, 'TCP/MQTT connect; default 5000')),
    handshakeTimeoutMs: Type.Optional(integer(1, 600_000, 'per handshake attempt; default 2000')),
    stallTimeoutMs: Type.Optional(
      integer(
        100,
        3_600_000,
        'file transfers (GRBL, Marlin): no ok and no busy status (GRBL) or no ok, busy: or temperature report (Marlin) for this long with lines outstanding asks for a status (? or M105) and raises device.stalled; a second such wait interrupts the job; default 10000 (GRBL), 20000 (Marlin)',
      ),
    ),
    commandTimeouts: Type.Optional(
      // propertyNames, not a closed record: a bad key is refused, never silently dropped.
      Type.Unsafe<Record<string, number>>({
        type: 'object',
        propertyNames: {
          pattern: COMMAND_TIMEOUT_KEY_PATTERN,
          'x-message': 'must be a G or M command word in capitals (G28, M109) or default, got {got}',
        },
        additionalProperties: integer(MIN_COMMAND_TIMEOUT_MS, MAX_COMMAND_TIMEOUT_MS, 'milliseconds'),
        description:
          'file transfers: how long a streamed line with this command word (G28, M109...) may wait for its ok, in ms (100-86400000); `default` for every other line (60000). Merged over the defaults: 1800000 for G4 G28 G29 G34 G35 G76 M0 M1 M109 M116 M190 M191 M303 M400 M600. A command named here is never a stall',
      }),
    ),
    resyncQuietMs: Type.Optional(
      integer(
        10,
        60_000,
        'after a resync probe could not confirm: how long the firmware must stay silent before commands go out again; default 500',
      ),
    ),
    statusPollMs: Type.Optional(
      integer(0, 60_000, `GRBL real-time ? rate: 0 (off) or ${MIN_STATUS_POLL_MS}-60000; default 250`),
    ),
    temperatureReport: Type.Optional(
      oneOf(TEMPERATURE_REPORT_MODES, 'Marlin: auto uses M155 auto-report when offered, else polls M105'),
    ),
    temperatureIntervalMs: Type.Optional(
      integer(100, 3_600_000, 'Marlin report/poll interval; default 2000'),
    ),
    lineNumbers: Type.Optional(
      Type.Boolean({ description: 'Marlin N<n> ... *<checksum> framing; default true' }),
    ),
    lineEnding: Type.Optional(oneOf(LINE_ENDINGS, 'line protocol: what ends each command; default \\n')),
    jsonAnswersOnly: Type.Optional(
      Type.Boolean({ description: 'jsonl: only a JSON answer completes a command; default false' }),
    ),
    username: Type.Optional(Type.String({ maxLength: 256, description: 'MQTT' })),
    password: Type.Optional(
      Type.String({ maxLength: 1024, description: 'MQTT; answered back masked, send the mask to keep it' }),
    ),
    qos: Type.Optional(oneOf(QOS_LEVELS, 'MQTT; default 1')),
    availabilityTimeoutMs: Type.Optional(
      integer(
        0,
        86_400_000,
        `a connected device with no inbound traffic this long is offline (stale); 0 (off) or ${MIN_AVAILABILITY_TIMEOUT_MS}-86400000; default 0`,
      ),
    ),
    availabilityTopic: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 512,
        description:
          "MQTT: the topic of the device's online/offline (last-will) messages; default <prefix>/status",
      }),
    ),
  },
  {
    additionalProperties: true,
    description: 'known keys are checked, other keys are kept as given; see docs/DEVICES.md',
  },
)

type KnownKeys = Static<typeof DeviceConfigurationSchema>

/** What an operator stored: known keys checked, unknown ones kept. */
export type DeviceConfiguration = KnownKeys & { [key: string]: unknown }

/** Every known key with its default filled in; what drivers read. */
type OptionalKeys = 'username' | 'password' | 'availabilityTopic' | 'commandTimeouts'
export type ResolvedConfiguration = Required<Omit<KnownKeys, OptionalKeys>> &
  Pick<KnownKeys, OptionalKeys> & { [key: string]: unknown }

export const CONFIGURATION_DEFAULTS = {
  baudRate: DEFAULT_BAUD_RATE,
  autoReconnect: true,
  reconnectDelayMs: 1000,
  reconnectMaxDelayMs: 30_000,
  commandTimeoutMs: 10_000,
  connectTimeoutMs: 5000,
  handshakeTimeoutMs: 2000,
  resyncQuietMs: 500,
  statusPollMs: 250,
  temperatureReport: 'auto' as TemperatureReportMode,
  temperatureIntervalMs: 2000,
  lineNumbers: true,
  lineEnding: '\n' as const,
  jsonAnswersOnly: false,
  qos: 1 as const,
  availabilityTimeoutMs: 0,
}

/**
 * What the schema cannot state, for a configuration whose schema errors are
 * `schemaErrors` (the route's or the service's): a status poll between off and
 * the fastest rate, and (when nothing else is wrong) the reconnect delays in
 * order. Paths as the schema's.
 */
export function configurationRuleErrors(input: unknown, schemaErrors: readonly FieldError[]): FieldError[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return []
  const config = input as Record<string, unknown>
  const errors: FieldError[] = []
  const poll = config.statusPollMs
  if (typeof poll === 'number' && poll > 0 && poll < MIN_STATUS_POLL_MS) {
    errors.push({
      path: 'configuration.statusPollMs',
      message: `must be 0 (off) or ${MIN_STATUS_POLL_MS}-60000`,
    })
  }
  const availability = config.availabilityTimeoutMs
  if (typeof availability === 'number' && availability > 0 && availability < MIN_AVAILABILITY_TIMEOUT_MS) {
    errors.push({
      path: 'configuration.availabilityTimeoutMs',
      message: `must be 0 (off) or ${MIN_AVAILABILITY_TIMEOUT_MS}-86400000`,
    })
  }
  const topic = config.availabilityTopic
  if (typeof topic === 'string' && /[+#]/.test(topic)) {
    errors.push({ path: 'configuration.availabilityTopic', message: 'must not have a wildcard (+ or #)' })
  }
  if (
    schemaErrors.length === 0 &&
    errors.length === 0 &&
    typeof config.reconnectDelayMs === 'number' &&
    typeof config.reconnectMaxDelayMs === 'number' &&
    config.reconnectMaxDelayMs < config.reconnectDelayMs
  ) {
    errors.push({
      path: 'configuration.reconnectMaxDelayMs',
      message: `must be >= reconnectDelayMs (${config.reconnectDelayMs}), got ${config.reconnectMaxDelayMs}`,
    })
  }
  return errors
}

/**
 * Every bad key of a configuration (empty when it is good), the schema's and
 * the rules between keys: one error per key, the first found (12.5 for a baud
 * rate is "must be integer", not that and "must be >= 50").
 */
export function configurationErrors(input: unknown): FieldError[] {
  if (input === undefined || input === null) return []
  const errors = schemaErrors(DeviceConfigurationSchema, input, 'configuration')
  const all = [...errors, ...configurationRuleErrors(input, errors)]
  return all.filter((e, i) => all.findIndex((other) => other.path === e.path) === i)
}

/**
 * Checks a configuration object; throws ValidationError listing every bad
 * field as `configuration.<key>`. Returns the object as given (no defaults
 * merged in, so stored configuration stays what the operator wrote).
 */
export function validateConfiguration(input: unknown): DeviceConfiguration {
  refuseErrors(configurationErrors(input))
  return (input ?? {}) as DeviceConfiguration
}

/** Validated configuration with defaults filled in; `defaultProtocol` comes from the target (sim firmware). */
export function resolveConfiguration(
  input: unknown,
  defaultProtocol: ProtocolName = 'line',
): ResolvedConfiguration {
  const config = validateConfiguration(input)
  const resolved: Record<string, unknown> = { ...CONFIGURATION_DEFAULTS, protocol: defaultProtocol }
  for (const [key, value] of Object.entries(config)) if (value !== undefined) resolved[key] = value
  if ((resolved.reconnectMaxDelayMs as number) < (resolved.reconnectDelayMs as number)) {
    resolved.reconnectMaxDelayMs = resolved.reconnectDelayMs
  }
  return resolved as ResolvedConfiguration
}

/** The protocol a target speaks unless its configuration names one: a simulator its firmware, else line. */
export function defaultProtocolFor(target: ConnectionTarget): ProtocolName {
  return target.scheme === 'sim' ? target.firmware : 'line'
}
