// `workflow`: steps run in order, each an action of another type; the first
// failure stops it. Workflows do not nest (one level keeps logs and timeouts
// readable).

import { Checker } from './check.js'
import type { Action, ActionContext, ActionOutcome, ActionRegistry } from './types.js'
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

function validate(payload: unknown, registry: ActionRegistry) {
  const c = new Checker()
  const obj = c.object(payload, ['steps'])
  if (!obj) return { ok: false as const, errors: c.errors }
  const steps = obj.steps
  if (!Array.isArray(steps) || steps.length === 0) {
    c.add('steps', 'must be a non-empty array of {action, payload}')
    return { ok: false as const, errors: c.errors }
  }
  if (steps.length > MAX_WORKFLOW_STEPS)
    c.add('steps', `must have at most ${MAX_WORKFLOW_STEPS} steps, got ${steps.length}`)
  steps.forEach((step, i) => {
    const sc = new Checker(`steps[${i}]`)
    const s = sc.object(step, ['action', 'payload', 'name'])
    if (s) {
      sc.string(s, 'name', { maxLength: 200 })
      const type = s.action
      const action = typeof type === 'string' ? registry.get(type) : undefined
      if (type === 'workflow') sc.add('action', 'a workflow step cannot be another workflow')
      else if (!action) {
        const known = registry.types().filter((t) => t !== 'workflow')
        sc.add('action', `must be one of ${known.join(', ')}, got ${JSON.stringify(type)}`)
      } else {
        const result = action.validate(s.payload ?? {}, registry)
        if (!result.ok) {
          for (const e of result.errors) {
            sc.errors.push({
              path: `steps[${i}].payload${e.path === 'payload' ? '' : `.${e.path}`}`,
              message: e.message,
            })
          }
        } else s.payload = result.value
      }
    }
    c.errors.push(...sc.errors)
  })
  return c.errors.length > 0
    ? { ok: false as const, errors: c.errors }
    : { ok: true as const, value: obj as unknown as WorkflowPayload }
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

export const workflowAction: Action<WorkflowPayload> = { type: 'workflow', validate, run }
