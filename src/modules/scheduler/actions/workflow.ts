// `workflow`: steps run in order, each an action of another type; the first
// failure stops it. Workflows do not nest (one level keeps logs and timeouts
// readable).

import { Type } from '@sinclair/typebox'
import type { FieldError } from '../../../errors.js'
import { checked, isObject, nonEmpty, payloadErrors, unknownFields } from './check.js'
import type { Action, ActionContext, ActionOutcome, ActionRegistry, RoleContext, RoleNeed } from './types.js'
import { abortFlags, abortMessage } from './types.js'

export interface WorkflowStep {
  action: string
  payload: unknown
  /** Shown in the log instead of the action type. */
  name?: string
}

export interface WorkflowPayload {
  steps: WorkflowStep[]
}

export const MAX_WORKFLOW_STEPS = 50

/** One step; its payload is checked by the step's action (its schema is that action's payload). */
export const WorkflowStepSchema = Type.Object(
  {
    action: Type.String({
      description: "the step's action: agent, script, api or device (not another workflow)",
      'x-required-message': 'is required',
    }),
    payload: Type.Optional(
      Type.Object({}, { additionalProperties: true, description: "the payload of the step's action" }),
    ),
    name: Type.Optional(Type.String(nonEmpty(200, 'shown in the log instead of the action type'))),
  },
  {
    additionalProperties: false,
    title: 'WorkflowStep',
    'x-message': 'must be an object {action, payload, name?}, got {got}',
  },
)

export const WorkflowPayloadSchema = Type.Object(
  {
    steps: Type.Array(WorkflowStepSchema, {
      minItems: 1,
      maxItems: MAX_WORKFLOW_STEPS,
      description: `1-${MAX_WORKFLOW_STEPS} steps run in order; the first failure stops the workflow`,
      'x-message': `must be a non-empty array of at most ${MAX_WORKFLOW_STEPS} {action, payload} steps, got {got}`,
      'x-required-message': 'must be a non-empty array of {action, payload}',
    }),
  },
  { additionalProperties: false, title: 'WorkflowPayload' },
)

/** A step's own rules: known fields only, an action other than workflow, and that action's payload check. */
function stepErrors(step: unknown, i: number, registry: ActionRegistry): FieldError[] {
  if (!isObject(step)) return []
  const base = `steps[${i}]`
  const errors = unknownFields(WorkflowStepSchema, step, base)
  const type = step.action
  if (type === 'workflow') {
    errors.push({ path: `${base}.action`, message: 'a workflow step cannot be another workflow' })
    return errors
  }
  const action = typeof type === 'string' ? registry.get(type) : undefined
  if (!action) {
    const known = registry.types().filter((t) => t !== 'workflow')
    errors.push({
      path: `${base}.action`,
      message: `must be one of ${known.join(', ')}, got ${JSON.stringify(type)}`,
    })
    return errors
  }
  const result = action.validate(step.payload ?? {}, registry)
  if (!result.ok) {
    for (const e of result.errors) {
      errors.push({ path: `${base}.payload${e.path === 'payload' ? '' : `.${e.path}`}`, message: e.message })
    }
  } else step.payload = result.value
  return errors
}

function validate(payload: unknown, registry: ActionRegistry) {
  const errors: FieldError[] = []
  // Before the schema's check, which would drop a step's unknown fields.
  if (isObject(payload) && Array.isArray(payload.steps)) {
    payload.steps.forEach((step, i) => {
      errors.push(...stepErrors(step, i, registry))
    })
  }
  errors.push(...payloadErrors(WorkflowPayloadSchema, payload))
  return checked<WorkflowPayload>(errors, payload)
}

/** The most a workflow needs is what its steps need: the first step that needs more than an operator says what. */
function requiredRole(payload: WorkflowPayload, ctx: RoleContext): RoleNeed | null {
  for (const step of payload.steps) {
    const need = ctx.registry.get(step.action)?.requiredRole(step.payload ?? {}, ctx)
    if (need) return need
  }
  return null
}

async function run(
  payload: WorkflowPayload,
  ctx: ActionContext,
  registry: ActionRegistry,
): Promise<ActionOutcome> {
  const total = payload.steps.length
  for (const [i, step] of payload.steps.entries()) {
    const label = `step ${i + 1}/${total} (${step.name ?? step.action})`
    if (ctx.signal.aborted) {
      const error = `${label} not started: ${abortMessage(ctx.signal)}`
      ctx.log.line(error)
      return { ok: false, error, ...abortFlags(ctx.signal) }
    }
    ctx.log.line(`== ${label}: started`)
    const action = registry.get(step.action) as Action
    let outcome: ActionOutcome
    try {
      outcome = await action.run(step.payload, ctx, registry)
    } catch (err) {
      ctx.log.line((err as Error).message)
      outcome = { ok: false, error: (err as Error).message }
    }
    if (!outcome.ok) {
      const error = `${label} failed: ${outcome.error ?? 'no reason given'}`
      ctx.log.line(`== ${error}`)
      return { ...outcome, ok: false, error }
    }
    ctx.log.line(`== ${label}: ok`)
  }
  return { ok: true }
}

export const workflowAction: Action<WorkflowPayload> = {
  type: 'workflow',
  payloadSchema: WorkflowPayloadSchema,
  validate,
  requiredRole,
  run,
}
