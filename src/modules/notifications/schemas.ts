// Request and response schemas of the notification rules API. The sink is one
// object with a `type` rather than a union of objects: with removeAdditional a
// union would strip the fields of every branch but the first. What only one
// type takes (an MQTT topic) is checked by the service (sink-settings.ts).

import { type Static, Type } from '@sinclair/typebox'
import { NameString } from '../../names.js'
import { DELIVERY_STATUSES } from './delivery-record.js'
import { EVENT_KINDS } from './events.js'

const Time = Type.String({ format: 'date-time' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
const IdList = (what: string) =>
  Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
      maxItems: 100,
      uniqueItems: true,
      description: `only events of these ${what} (omitted or empty: all the owner may see)`,
    }),
  )

export const EventKindSchema = Type.Union(
  EVENT_KINDS.map((k) => Type.Literal(k)),
  { description: EVENT_KINDS.join(' | ') },
)

export const RuleFilterSchema = Type.Object(
  {
    kinds: Type.Array(EventKindSchema, { minItems: 1, maxItems: EVENT_KINDS.length, uniqueItems: true }),
    agentIds: IdList('agents'),
    deviceIds: IdList('devices'),
    taskIds: IdList('tasks'),
  },
  { additionalProperties: false },
)
export type RuleFilter = Static<typeof RuleFilterSchema>

export const SINK_TYPES = ['webhook', 'mqtt'] as const

export const SinkInputSchema = Type.Object(
  {
    type: Type.Union(
      SINK_TYPES.map((s) => Type.Literal(s)),
      {
        description: 'webhook: POST signed JSON to url; mqtt: publish (QoS 1) to topic on the broker at url',
      },
    ),
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'webhook: http(s)://host[:port]/path; mqtt: mqtt://host[:port] (default port 1883)',
    }),
    topic: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'mqtt only' })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'mqtt only' })),
    password: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'mqtt only; stored and never returned (omit on update to keep it)',
      }),
    ),
    retain: Type.Optional(
      Type.Boolean({ description: 'mqtt only: publish with the retain flag (default false)' }),
    ),
  },
  { additionalProperties: false },
)
export type SinkInput = Static<typeof SinkInputSchema>

const CooldownSeconds = Type.Integer({
  minimum: 0,
  maximum: 7 * 86_400,
  description:
    'at most one notification per rule and resource in this many seconds; the next one counts the events held back (default 60)',
})

export const CreateRuleBody = Type.Object(
  {
    name: NameString({ maxLength: 200 }),
    enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
    filter: RuleFilterSchema,
    cooldownSeconds: Type.Optional(CooldownSeconds),
    sink: SinkInputSchema,
  },
  { additionalProperties: false },
)
export type CreateRuleBody = Static<typeof CreateRuleBody>

export const UpdateRuleBody = Type.Object(
  {
    name: Type.Optional(NameString({ maxLength: 200 })),
    enabled: Type.Optional(Type.Boolean()),
    filter: Type.Optional(RuleFilterSchema),
    cooldownSeconds: Type.Optional(CooldownSeconds),
    sink: Type.Optional(SinkInputSchema),
    rotateSecret: Type.Optional(
      Type.Boolean({ description: 'webhook: make a new signing secret, answered once in `secret`' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type UpdateRuleBody = Static<typeof UpdateRuleBody>

export const SinkViewSchema = Type.Object({
  type: Type.Union(SINK_TYPES.map((s) => Type.Literal(s))),
  url: Type.String(),
  topic: Nullable(Type.String()),
  username: Nullable(Type.String()),
  hasPassword: Type.Boolean(),
  retain: Type.Boolean(),
})

export const RuleSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  enabled: Type.Boolean(),
  filter: RuleFilterSchema,
  cooldownSeconds: Type.Integer(),
  sink: SinkViewSchema,
  ownerId: Type.String(),
  createdAt: Time,
  updatedAt: Time,
})
export type RuleView = Static<typeof RuleSchema>

export const RuleWithSecretSchema = Type.Object({
  ...RuleSchema.properties,
  secret: Type.Optional(
    Type.String({
      description:
        'the webhook signing secret: answered only when it is made (create, rotateSecret, a sink changed to webhook)',
    }),
  ),
})

export const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  startedAt: Time,
  durationMs: Type.Integer(),
  statusCode: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  outcome: Type.Union([Type.Literal('delivered'), Type.Literal('retry'), Type.Literal('failed')]),
  nextAttemptAt: Nullable(Time),
})

export const DeliverySchema = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  eventId: Type.String(),
  eventKind: Type.String(),
  resourceType: Nullable(Type.String()),
  resourceId: Nullable(Type.String()),
  status: Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s))),
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  nextAttemptAt: Nullable(Time),
  lastStatusCode: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  createdAt: Time,
  deliveredAt: Nullable(Time),
  body: Type.Unknown({ description: 'the notification as sent' }),
  attemptLog: Type.Array(AttemptSchema, { description: 'every attempt, oldest first' }),
})
export type DeliveryView = Static<typeof DeliverySchema>
