// Request and response schemas of the alert rules and alerts API. The
// condition is one object with a `source` rather than a union (with
// removeAdditional a union would strip the fields of every branch but the
// first); what only one source takes (a device id) is checked by the service.

import { type Static, Type } from '@sinclair/typebox'
import { ListQuery } from '../../http/list.js'
import { NameString } from '../../names.js'
import {
  ALERT_SOURCES,
  ALERT_STATES,
  HOST_METRICS,
  OPERATORS,
  RULE_KINDS,
  SAFETY_ACTIONS,
} from './records.js'

const Time = Type.String({ format: 'date-time' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
const literals = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  )
/** Finite numbers of a sane size: a threshold of 1e308 compares, but nobody means it. */
const Threshold = (description: string) => Type.Number({ minimum: -1e12, maximum: 1e12, description })

export const ConditionSchema = Type.Object(
  {
    source: literals(ALERT_SOURCES, 'host: a host metric; device: a reading of one device'),
    metric: Type.String({
      minLength: 1,
      maxLength: 100,
      description: `host: ${HOST_METRICS.join(' | ')} (disk.percent: the filesystem of the data directory, or of condition.mount); device: the reading's name (temperature, hotendTemperature, ...)`,
    }),
    deviceId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'device rules: the device' }),
    ),
    mount: Type.Optional(
      Nullable(
        Type.String({
          minLength: 1,
          maxLength: 4096,
          description:
            'host disk.percent rules: a mount point of this host (/, /dev/shm, /var/lib/docker); omitted or null: the filesystem of the data directory',
        }),
      ),
    ),
    kind: Type.Optional(
      literals(
        RULE_KINDS,
        'threshold (default): value <operator> threshold. Device rules relative to the target reading: below-target (below target - delta after it reached the target), above-target (above target + delta), no-rise (no rise of delta within forSeconds after a new target)',
      ),
    ),
    operator: Type.Optional(literals(OPERATORS, 'threshold rules')),
    threshold: Type.Optional(
      Threshold('threshold rules: the condition holds while `value <operator> threshold`'),
    ),
    targetMetric: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description:
          "relative rules: the reading holding the target (Marlin's targetTemperature, bedTargetTemperature)",
      }),
    ),
    delta: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1e6,
        description: 'relative rules: the margin (Δ, or the rise x)',
      }),
    ),
    warmUpExempt: Type.Optional(
      Type.Boolean({
        description:
          'above-target: only once the reading reached its target, so heating up or cooling to a lower target is no alert (default true)',
      }),
    ),
    clearThreshold: Type.Optional(
      Nullable(
        Threshold(
          'a firing alert resolves once the value no longer passes this (hysteresis); on the safe side of threshold; default threshold',
        ),
      ),
    ),
  },
  { additionalProperties: false },
)
export type ConditionInput = Static<typeof ConditionSchema>

const ForSeconds = Type.Integer({
  minimum: 0,
  maximum: 86_400,
  description: 'the condition must hold this long before the alert fires (default 0)',
})
const CooldownSeconds = Type.Integer({
  minimum: 0,
  maximum: 7 * 86_400,
  description:
    'an alert firing within this time after the rule last sent alert.firing is recorded but not sent (default 300)',
})

export const SafetyActionSchema = Type.Object(
  {
    type: literals(
      SAFETY_ACTIONS,
      'pause-job / cancel-job: the file transfer running on the device; send-command: command',
    ),
    command: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'send-command: what to send (M104 S0, !)' }),
    ),
  },
  { additionalProperties: false },
)
const Actions = Type.Array(SafetyActionSchema, {
  maxItems: 5,
  description: 'device rules: done in order each time an alert fires, logged on the device log and the job',
})

export const CreateAlertRuleBody = Type.Object(
  {
    name: NameString({ maxLength: 200 }),
    enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
    condition: ConditionSchema,
    forSeconds: Type.Optional(ForSeconds),
    cooldownSeconds: Type.Optional(CooldownSeconds),
    actions: Type.Optional(Actions),
  },
  { additionalProperties: false },
)
export type CreateAlertRuleBody = Static<typeof CreateAlertRuleBody>

/** A change: any of the fields a rule is created with (at least one), under the same limits. */
export const UpdateAlertRuleBody = Type.Partial(
  Type.Object({ ...CreateAlertRuleBody.properties, enabled: Type.Boolean() }),
  { additionalProperties: false, minProperties: 1 },
)
export type UpdateAlertRuleBody = Static<typeof UpdateAlertRuleBody>

export const AlertRuleSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  enabled: Type.Boolean(),
  condition: Type.Object({
    source: literals(ALERT_SOURCES),
    metric: Type.String(),
    deviceId: Nullable(Type.String()),
    mount: Nullable(Type.String()),
    kind: literals(RULE_KINDS),
    operator: Nullable(literals(OPERATORS)),
    threshold: Nullable(Type.Number()),
    clearThreshold: Nullable(Type.Number()),
    targetMetric: Nullable(Type.String()),
    delta: Nullable(Type.Number()),
    warmUpExempt: Type.Boolean(),
  }),
  forSeconds: Type.Integer(),
  cooldownSeconds: Type.Integer(),
  actions: Type.Array(SafetyActionSchema),
  ownerId: Type.String(),
  createdAt: Time,
  updatedAt: Time,
})
export type AlertRuleView = Static<typeof AlertRuleSchema>

export const AlertSchema = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  ownerId: Type.String(),
  resourceType: literals(ALERT_SOURCES),
  resourceId: Type.String({
    description: 'the device id, or the host metric (disk.percent@<mount> for a rule naming a mount)',
  }),
  node: Nullable(
    Type.String({
      description: 'the server (MYNTRIX_NODE_NAME) that evaluated the rule and raised the alert',
    }),
  ),
  state: literals(ALERT_STATES),
  value: Nullable(Type.Number({ description: 'the value at the last change of state' })),
  startedAt: Time,
  firedAt: Nullable(Time),
  endedAt: Nullable(Time),
  notified: Type.Boolean({ description: 'alert.firing was sent (false: held back by the rule cooldown)' }),
  acknowledgedAt: Nullable(Time),
  acknowledgedBy: Nullable(Type.String()),
  transitions: Type.Array(
    Type.Object({ state: literals(ALERT_STATES), value: Nullable(Type.Number()), at: Time }),
    { description: 'every change of state, oldest first' },
  ),
})
export type AlertView = Static<typeof AlertSchema>

export const AlertListQuery = Type.Object({
  ...ListQuery.properties,
  state: Type.Optional(
    Type.Union([literals(ALERT_STATES), Type.Literal('active')], {
      description: 'only alerts in this state; active: pending or firing (default: all, newest first)',
    }),
  ),
  ruleId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  node: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'only alerts this node (MYNTRIX_NODE_NAME) raised',
    }),
  ),
})
export type AlertListQuery = Static<typeof AlertListQuery>
