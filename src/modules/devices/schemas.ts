// The devices area's request and reply shapes, the views that fill them, and
// the check of a command line that both the route and the connection apply.

import { Type } from '@sinclair/typebox'
import { nodeAffinitySchema } from '../../cluster/affinity-schema.js'
import { type FieldError, ValidationError } from '../../errors.js'
import { ListQuery } from '../../http/list.js'
import { NameString } from '../../names.js'
import { DeviceConfigurationSchema } from './configuration.js'
import { ACCEPTED_CONNECTION_FORMS } from './connection-string.js'
import { DEVICE_STATUSES, type Device, type TelemetrySample } from './types.js'

export const MAX_NAME_LENGTH = 200
/** MQTT passwords are stored but never answered back; sending this back keeps the stored one. */
export const REDACTED = '********'
/** A command may be at most this long and one line: a newline would desynchronise acknowledgements. */
export const MAX_COMMAND_LENGTH = 1024
const MAX_TIMEOUT_MS = 3_600_000

export const DeviceStatusSchema = Type.Union(
  DEVICE_STATUSES.map((s) => Type.Literal(s)),
  { description: DEVICE_STATUSES.join(' | ') },
)

/** docs/SCALE-OUT.md, "Devices". */
const DeviceAffinitySchema = nodeAffinitySchema(
  'the node that may hold the connection in a cluster (a serial port is on that node’s host); null = any ' +
    'node. Default on create: the creating node’s name for serial://, else null. Changed only while the ' +
    'device is not meant to be connected (409 otherwise).',
)

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])
export const DeviceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  connectionString: Type.String(),
  status: DeviceStatusSchema,
  lastSeen: Nullable(Type.String({ format: 'date-time' })),
  firmwareVersion: Nullable(Type.String()),
  configuration: DeviceConfigurationSchema,
  ownerId: Type.String(),
  lastError: Type.Optional(Nullable(Type.String({ description: 'set while status is error' }))),
  stale: Type.Boolean({
    description:
      'connected but offline: no inbound traffic for configuration.availabilityTimeoutMs, or an MQTT device said so',
  }),
  nodeAffinity: DeviceAffinitySchema,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
})

const connectionStringField = Type.String({
  minLength: 1,
  maxLength: 1000,
  description: `one of: ${ACCEPTED_CONNECTION_FORMS.join(', ')}`,
})

export const CreateDeviceBody = Type.Object({
  name: NameString({ maxLength: MAX_NAME_LENGTH }),
  type: Type.Optional(
    Type.String({ maxLength: 100, description: 'free text, e.g. printer, cnc, sensor (default generic)' }),
  ),
  connectionString: connectionStringField,
  configuration: Type.Optional(DeviceConfigurationSchema),
  nodeAffinity: Type.Optional(DeviceAffinitySchema),
})

export const UpdateDeviceBody = Type.Object({
  name: Type.Optional(NameString({ maxLength: MAX_NAME_LENGTH })),
  type: Type.Optional(Type.String({ maxLength: 100 })),
  connectionString: Type.Optional(connectionStringField),
  configuration: Type.Optional(DeviceConfigurationSchema),
  nodeAffinity: Type.Optional(DeviceAffinitySchema),
})

export const DeviceIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })
export const TelemetrySocketParams = Type.Object({ deviceId: Type.String({ minLength: 1, maxLength: 100 }) })

export const CommandBody = Type.Object({
  command: Type.String({
    minLength: 1,
    maxLength: MAX_COMMAND_LENGTH,
    description: 'one line; GRBL real-time ? ! ~ and Ctrl-X bypass the queue',
  }),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TIMEOUT_MS })),
})

export const CommandReply = Type.Object({
  message: Type.String(),
  ok: Type.Boolean({ description: 'false when the firmware refused the command (error:N, alarm)' }),
  response: Type.Array(Type.String()),
  durationMs: Type.Number(),
})

export const TelemetryQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'most recent samples (default 100)' }),
  ),
})

export const TelemetrySampleSchema = Type.Object({
  ts: Type.String({ format: 'date-time' }),
  readings: Type.Object({}, { additionalProperties: true }),
})

export const PortsReply = Type.Object({
  ports: Type.Array(
    Type.Object({
      path: Type.String(),
      manufacturer: Type.Optional(Type.String()),
      serialNumber: Type.Optional(Type.String()),
      vendorId: Type.Optional(Type.String()),
      productId: Type.Optional(Type.String()),
    }),
  ),
  reason: Nullable(
    Type.String({ description: 'why the list is empty when the host cannot enumerate ports' }),
  ),
})

export const DeleteReply = Type.Object({ message: Type.String(), id: Type.String() })

export { ListQuery }

export function deviceView(device: Device) {
  return {
    id: device.id,
    name: device.name,
    type: device.type,
    connectionString: device.connectionString,
    status: device.status,
    lastSeen: device.lastSeen?.toISOString() ?? null,
    firmwareVersion: device.firmwareVersion,
    configuration: redact(device.configuration),
    ownerId: device.ownerId,
    lastError: device.lastError,
    stale: device.stale ?? false,
    nodeAffinity: device.nodeAffinity,
    createdAt: device.createdAt.toISOString(),
    updatedAt: device.updatedAt.toISOString(),
  }
}

/** MQTT passwords are stored but never answered back. */
function redact(configuration: Record<string, unknown>): Record<string, unknown> {
  if (configuration.password === undefined) return configuration
  return { ...configuration, password: REDACTED }
}

export function sampleView(sample: TelemetrySample) {
  return { ts: sample.ts.toISOString(), readings: sample.readings }
}

/**
 * What the schema cannot say of a command (blank text, a line break) and the
 * same limits again for callers that are not routes (the connection, tests).
 */
export function validateCommand(text: unknown, timeoutMs: unknown): void {
  const errors: FieldError[] = []
  if (typeof text !== 'string' || text.trim() === '') {
    errors.push({ path: 'command', message: 'command must be a non-empty string' })
  } else if (text.length > MAX_COMMAND_LENGTH) {
    errors.push({
      path: 'command',
      message: `command must be at most ${MAX_COMMAND_LENGTH} characters, got ${text.length}`,
    })
  } else if (/[\r\n]/.test(text)) {
    errors.push({ path: 'command', message: 'command must be a single line (no CR or LF)' })
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' ||
      !Number.isInteger(timeoutMs) ||
      timeoutMs < 1 ||
      timeoutMs > MAX_TIMEOUT_MS)
  ) {
    errors.push({
      path: 'timeoutMs',
      message: `timeoutMs must be an integer 1-${MAX_TIMEOUT_MS}, got ${JSON.stringify(timeoutMs)}`,
    })
  }
  if (errors.length > 0) throw new ValidationError(errors.map((e) => e.message).join('; '), errors)
}
