// A task's fields as one TypeBox statement: the service checks stored values
// with it (src/validation.ts, in the words below), and the routes' body
// schemas are composed from it and from each action's payload schema, so the
// OpenAPI document shows every field. The schedule and the time zone are
// checked by cron.ts and timezone.ts, whose messages name the bad cron field.

import { type TObject, Type } from '@sinclair/typebox'
import { wholeNumber } from './actions/check.js'
import { createActionRegistry, payloadSchemas } from './actions/index.js'
import { ACTION_TYPES } from './actions/types.js'
import { WorkflowPayloadSchema, WorkflowStepSchema } from './actions/workflow.js'
import { OVERLAP_POLICIES, type OverlapPolicy } from './types.js'

export const LIMITS = {
  nameMaxLength: 200,
  descriptionMaxLength: 2000,
  timeoutMsMax: 7 * 86_400_000,
  maxRetriesMax: 100,
  retryDelayMsMax: 86_400_000,
  misfireGraceMsMax: 7 * 86_400_000,
  previewCountMax: 100,
} as const

export const DEFAULTS = {
  timezone: 'UTC',
  overlapPolicy: 'skip' as OverlapPolicy,
  maxRetries: 0,
  retryDelayMs: 0,
  misfireGraceMs: 60_000,
}

/** The fields the service checks with this schema (a create's, or an update's merged over the task). */
const settingFields = {
  name: Type.String({
    minLength: 1,
    maxLength: LIMITS.nameMaxLength,
    pattern: '\\S',
    description: 'shown in the dashboard (no control or invisible characters)',
    'x-message': `must be a non-empty string of at most ${LIMITS.nameMaxLength} characters, got {got}`,
    'x-required-message': 'is required: a non-empty string',
  }),
  description: Type.Union([Type.String({ maxLength: LIMITS.descriptionMaxLength }), Type.Null()], {
    'x-message': `must be a string of at most ${LIMITS.descriptionMaxLength} characters`,
  }),
  enabled: Type.Boolean({ description: 'default true', 'x-message': 'must be true or false' }),
  overlapPolicy: Type.String({
    enum: [...OVERLAP_POLICIES],
    description: 'when the previous run is still running: skip (default), allow, or queue',
  }),
  timeoutMs: Type.Union([Type.Integer({ minimum: 1, maximum: LIMITS.timeoutMsMax }), Type.Null()], {
    description: 'abort a run after this long (default none)',
    'x-message': `must be a whole number from 1 to ${LIMITS.timeoutMsMax} or null, got {got}`,
  }),
  maxRetries: Type.Integer(wholeNumber(0, LIMITS.maxRetriesMax, 'retries of a failed run (default 0)')),
  retryDelayMs: Type.Integer(wholeNumber(0, LIMITS.retryDelayMsMax, 'wait before a retry (default 0)')),
  misfireGraceMs: Type.Integer(
    wholeNumber(0, LIMITS.misfireGraceMsMax, 'how late a missed occurrence may still fire (default 60000)'),
  ),
}

export const TaskSettingsSchema = Type.Object(settingFields)

const whenFields = {
  schedule: Type.String({
    description:
      'cron: 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @hourly etc.',
    examples: ['*/5 * * * *'],
  }),
  timezone: Type.String({ description: 'IANA time zone (default UTC)', examples: ['Europe/Berlin'] }),
}

/** `action` names the type, or carries it with the payload's fields: `{type, ...payload}`. */
function actionField(type: string, payload: TObject) {
  return Type.Union([
    Type.Literal(type),
    Type.Composite([Type.Object({ type: Type.Literal(type) }), Type.Partial(payload)], {
      description: '{type, ...payload}: the payload given inline',
    }),
  ])
}

/**
 * A workflow's payload as the document shows it: one step shape per action it
 * may run, so each step's payload is described. The workflow action checks the
 * same thing its own way (a step's payload against that action's schema).
 */
function documentedPayload(type: string, schema: TObject, all: Array<{ type: string; schema: TObject }>) {
  if (type !== 'workflow') return schema
  const { steps } = WorkflowPayloadSchema.properties
  const step = Type.Union(
    all
      .filter((a) => a.type !== 'workflow')
      .map((a) =>
        Type.Object(
          {
            action: Type.Literal(a.type),
            payload: Type.Optional(a.schema),
            name: WorkflowStepSchema.properties.name,
          },
          { additionalProperties: false, title: `${a.type} step` },
        ),
      ),
  )
  return Type.Object(
    {
      steps: Type.Array(step, {
        minItems: steps.minItems,
        maxItems: steps.maxItems,
        description: steps.description,
      }),
    },
    { additionalProperties: false, title: 'WorkflowPayload' },
  )
}

const registered = payloadSchemas(createActionRegistry())
const actions = registered.map(({ type, schema }) => ({
  type,
  schema: documentedPayload(type, schema, registered),
}))

/** POST /tasks: one shape per action type, told apart by `action`. */
export const CreateTaskBody = Type.Union(
  actions.map(({ type, schema }) =>
    Type.Object(
      {
        name: settingFields.name,
        description: Type.Optional(settingFields.description),
        schedule: whenFields.schedule,
        timezone: Type.Optional(whenFields.timezone),
        action: actionField(type, schema),
        payload: Type.Optional(Type.Union([schema, Type.Null()])),
        enabled: Type.Optional(settingFields.enabled),
        overlapPolicy: Type.Optional(settingFields.overlapPolicy),
        timeoutMs: Type.Optional(settingFields.timeoutMs),
        maxRetries: Type.Optional(settingFields.maxRetries),
        retryDelayMs: Type.Optional(settingFields.retryDelayMs),
        misfireGraceMs: Type.Optional(settingFields.misfireGraceMs),
      },
      { additionalProperties: false, title: `${type} task` },
    ),
  ),
)

/** PUT /tasks/{id}: any of the fields; absent ones keep their value, a new action type starts from an empty payload. */
export const UpdateTaskBody = Type.Object(
  {
    ...Object.fromEntries(
      Object.entries({ ...settingFields, ...whenFields }).map(([k, v]) => [k, Type.Optional(v)]),
    ),
    action: Type.Optional(
      Type.Union(
        actions.map(({ type, schema }) => actionField(type, schema)),
        {
          description: `${ACTION_TYPES.join(' | ')}, or {type, ...payload}`,
        },
      ),
    ),
    payload: Type.Optional(
      Type.Union([...actions.map(({ schema }) => schema), Type.Null()], {
        description: "the action's payload",
      }),
    ),
  },
  { additionalProperties: false },
)
