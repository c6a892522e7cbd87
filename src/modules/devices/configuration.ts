// Validates a device's `configuration` object. Known keys are checked and
// defaulted; unknown keys are kept as they are (device-specific settings the
// operator wants stored), so the API returns what was given.

import { type FieldError, ValidationError } from '../../errors.js'
import { DEFAULT_BAUD_RATE, isValidBaudRate } from './connection-string.js'

export const PROTOCOL_NAMES = ['line', 'jsonl', 'marlin', 'grbl'] as const
export type ProtocolName = (typeof PROTOCOL_NAMES)[number]
export const TEMPERATURE_REPORT_MODES = ['auto', 'autoreport', 'poll', 'off'] as const
export type TemperatureReportMode = (typeof TEMPERATURE_REPORT_MODES)[number]

export interface DeviceConfiguration {
  [key: string]: unknown
  protocol?: ProtocolName
  baudRate?: number
  autoReconnect?: boolean
  reconnectDelayMs?: number
  reconnectMaxDelayMs?: number
  commandTimeoutMs?: number
  connectTimeoutMs?: number
  handshakeTimeoutMs?: number
  /** After a resync probe could not confirm: how long the firmware must stay silent before commands go out again. */
  resyncQuietMs?: number
  /** GRBL: how often the real-time `?` status query is sent; 0 turns it off. */
  statusPollMs?: number
  /** Marlin: `auto` uses M155 auto-report when the firmware offers it, else polls M105. */
  temperatureReport?: TemperatureReportMode
  temperatureIntervalMs?: number
  /** Marlin: send `N<n> ... *<checksum>` framing (what OctoPrint and printcore send). */
  lineNumbers?: boolean
  /** line protocol: what ends each command on the wire. */
  lineEnding?: '\n' | '\r\n'
  /** jsonl: only a JSON answer completes a command; plain text lines go to the log. */
  jsonAnswersOnly?: boolean
  username?: string
  password?: string
  qos?: 0 | 1 | 2
}

/** Every known key with its default filled in; what drivers read. */
export interface ResolvedConfiguration {
  [key: string]: unknown
  protocol: ProtocolName
  baudRate: number
  autoReconnect: boolean
  reconnectDelayMs: number
  reconnectMaxDelayMs: number
  commandTimeoutMs: number
  connectTimeoutMs: number
  handshakeTimeoutMs: number
  resyncQuietMs: number
  statusPollMs: number
  temperatureReport: TemperatureReportMode
  temperatureIntervalMs: number
  lineNumbers: boolean
  lineEnding: '\n' | '\r\n'
  jsonAnswersOnly: boolean
  username?: string
  password?: string
  qos: 0 | 1 | 2
}

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
}

type Rule = (value: unknown) => string | null

const integer =
  (min: number, max: number, allowZero = false): Rule =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && ((v >= min && v <= max) || (allowZero && v === 0))
      ? null
      : `must be an integer ${allowZero ? `0 or ${min}` : min}-${max}, got ${JSON.stringify(v)}`
const boolean: Rule = (v) =>
  typeof v === 'boolean' ? null : `must be true or false, got ${JSON.stringify(v)}`
const oneOf =
  (values: readonly unknown[]): Rule =>
  (v) =>
    values.includes(v)
      ? null
      : `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`
const text =
  (maxLength: number): Rule =>
  (v) =>
    typeof v === 'string' && v.length <= maxLength
      ? null
      : `must be a string of at most ${maxLength} characters`

const RULES: Record<string, Rule> = {
  protocol: oneOf(PROTOCOL_NAMES),
  baudRate: (v) => (isValidBaudRate(v) ? null : `must be an integer 50-4000000, got ${JSON.stringify(v)}`),
  autoReconnect: boolean,
  reconnectDelayMs: integer(10, 600_000),
  reconnectMaxDelayMs: integer(10, 3_600_000),
  commandTimeoutMs: integer(1, 3_600_000),
  connectTimeoutMs: integer(1, 600_000),
  handshakeTimeoutMs: integer(1, 600_000),
  resyncQuietMs: integer(10, 60_000),
  statusPollMs: integer(20, 60_000, true),
  temperatureReport: oneOf(TEMPERATURE_REPORT_MODES),
  temperatureIntervalMs: integer(100, 3_600_000),
  lineNumbers: boolean,
  lineEnding: oneOf(['\n', '\r\n']),
  jsonAnswersOnly: boolean,
  username: text(256),
  password: text(1024),
  qos: oneOf([0, 1, 2]),
}

/**
 * Checks a configuration object; throws ValidationError listing every bad
 * field as `configuration.<key>`. Returns the object as given (no defaults
 * merged in, so stored configuration stays what the operator wrote).
 */
export function validateConfiguration(input: unknown): DeviceConfiguration {
  if (input === undefined || input === null) return {}
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError('configuration must be an object', [
      { path: 'configuration', message: 'must be an object' },
    ])
  }
  const config = input as Record<string, unknown>
  const errors: FieldError[] = []
  for (const [key, rule] of Object.entries(RULES)) {
    if (config[key] === undefined) continue
    const message = rule(config[key])
    if (message) errors.push({ path: `configuration.${key}`, message: `${key} ${message}` })
  }
  if (
    errors.length === 0 &&
    typeof config.reconnectDelayMs === 'number' &&
    typeof config.reconnectMaxDelayMs === 'number' &&
    config.reconnectMaxDelayMs < config.reconnectDelayMs
  ) {
    errors.push({
      path: 'configuration.reconnectMaxDelayMs',
      message: `reconnectMaxDelayMs must be >= reconnectDelayMs (${config.reconnectDelayMs}), got ${config.reconnectMaxDelayMs}`,
    })
  }
  if (errors.length > 0) {
    throw new ValidationError(`invalid configuration: ${errors.map((e) => e.message).join('; ')}`, errors)
  }
  return config as DeviceConfiguration
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
