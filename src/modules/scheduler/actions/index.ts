// The action registry: a new action is one file plus one entry here. Nothing
// else switches on the action type.

import type { TObject } from '@sinclair/typebox'
import { type FieldError, ValidationError } from '../../../errors.js'
import { agentAction } from './agent.js'
import { apiAction } from './api.js'
import { deviceAction } from './device.js'
import { createLogSink, type LogSinkOptions } from './log-sink.js'
import { scriptAction } from './script.js'
import {
  ACTION_TYPES,
  type Action,
  type ActionContext,
  type ActionRegistry,
  type ActionResult,
  type ActionType,
  abortFlags,
  type RoleContext,
  type RoleNeed,
} from './types.js'
import { workflowAction } from './workflow.js'

export { hostAllowed, parseAllowEntry as parseApiAllowEntry } from './api.js'
export { createLogSink, DEFAULT_LOG_MAX_CHARS, type LogSink, type LogSinkOptions } from './log-sink.js'
export * from './types.js'

const BUILT_IN: Record<ActionType, Action> = {
  agent: agentAction as Action,
  script: scriptAction as Action,
  api: apiAction as Action,
  device: deviceAction as Action,
  workflow: workflowAction as Action,
}

export function createActionRegistry(actions: Record<ActionType, Action> = BUILT_IN): ActionRegistry {
  return {
    get: (type) => (Object.hasOwn(actions, type) ? actions[type as ActionType] : undefined),
    types: () => ACTION_TYPES,
  }
}

/** Field errors for an action and its payload, with paths from the task (`action`, `payload.url`). */
export function actionErrors(registry: ActionRegistry, type: unknown, payload: unknown): FieldError[] {
  const action = typeof type === 'string' ? registry.get(type) : undefined
  if (!action) {
    return [
      {
        path: 'action',
        message: `must be one of ${registry.types().join(', ')}, got ${JSON.stringify(type)}`,
      },
    ]
  }
  const result = action.validate(payload ?? {}, registry)
  if (result.ok) return []
  return result.errors.map((e) => ({
    path: e.path === 'payload' ? 'payload' : `payload.${e.path}`,
    message: e.message,
  }))
}

/** Validates and returns the normalised payload, or throws a 400 ValidationError. */
export function validateAction(registry: ActionRegistry, type: unknown, payload: unknown): unknown {
  const errors = actionErrors(registry, type, payload)
  const [first] = errors
  if (first) {
    throw new ValidationError(
      `invalid ${typeof type === 'string' ? type : 'action'}: ${first.path} ${first.message}`,
      errors,
    )
  }
  const result = (registry.get(type as string) as Action).validate(payload ?? {}, registry)
  return result.ok ? result.value : payload
}

/**
 * What a task with this (valid) payload needs beyond operator, by its action's
 * own rule (`requiredRole`); null when an operator may.
 */
export function roleNeed(
  registry: ActionRegistry,
  type: string,
  payload: unknown,
  ctx: Omit<RoleContext, 'registry'>,
): RoleNeed | null {
  return registry.get(type)?.requiredRole(payload, { ...ctx, registry }) ?? null
}

/** Each action's payload schema, by type (the task body's schema is composed from them). */
export function payloadSchemas(registry: ActionRegistry): Array<{ type: ActionType; schema: TObject }> {
  return registry.types().flatMap((type) => {
    const action = registry.get(type)
    return action ? [{ type, schema: action.payloadSchema }] : []
  })
}

/**
 * Runs one action to its end and never throws: a service error, a thrown bug or
 * an abort all become `{ ok: false }` with the reason in the log.
 */
export async function runAction(
  registry: ActionRegistry,
  type: string,
  payload: unknown,
  ctx: Omit<ActionContext, 'log'> & { log?: ActionContext['log']; logOptions?: LogSinkOptions },
): Promise<ActionResult> {
  const log = ctx.log ?? createLogSink(ctx.logOptions)
  const full: ActionContext = { ...ctx, log }
  const finish = (outcome: Omit<ActionResult, 'logs' | 'logTruncated'>): ActionResult => ({
    ...outcome,
    logs: log.text(),
    logTruncated: log.truncated,
  })
  const action = registry.get(type)
  if (!action) {
    const error = `unknown action ${JSON.stringify(type)}`
    log.line(error)
    return finish({ ok: false, error })
  }
  const checked = action.validate(payload ?? {}, registry)
  if (!checked.ok) {
    const error = `invalid payload: ${checked.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`
    log.line(error)
    return finish({ ok: false, error })
  }
  try {
    return finish(await action.run(checked.value, full, registry))
  } catch (err) {
    const error = `${type} action failed: ${(err as Error)?.message ?? String(err)}`
    log.line(error)
    return finish({ ok: false, error, ...(ctx.signal.aborted ? abortFlags(ctx.signal) : {}) })
  }
}
