// `agent`: start, stop or restart a supervised agent, or `run` it: start it and
// succeed when its process exits 0. The agents area implements AgentControl.

import { Type } from '@sinclair/typebox'
import { checked, nonEmpty, payloadErrors } from './check.js'
import {
  type Action,
  type ActionContext,
  type ActionOutcome,
  abortFlags,
  failureOf,
  type RoleContext,
} from './types.js'

export const AGENT_OPERATIONS = ['start', 'stop', 'restart', 'run'] as const
export type AgentOperation = (typeof AGENT_OPERATIONS)[number]

export interface AgentPayload {
  agentId: string
  operation: AgentOperation
}

const OPERATIONS = AGENT_OPERATIONS.join(', ')

export const AgentPayloadSchema = Type.Object(
  {
    agentId: Type.String({ ...nonEmpty(200, 'the agent to act on'), 'x-required-message': 'is required' }),
    operation: Type.String({
      enum: [...AGENT_OPERATIONS],
      description: '`run`: start the agent and succeed when its process exits 0',
      'x-message': `must be one of ${OPERATIONS}, got {got}`,
      'x-required-message': `is required; one of ${OPERATIONS}`,
    }),
  },
  { additionalProperties: false, title: 'AgentPayload' },
)

function validate(payload: unknown) {
  return checked<AgentPayload>(payloadErrors(AgentPayloadSchema, payload), payload)
}

/** Starting an agent that runs as the server's own OS user is admin-only; stopping one is not. */
function requiredRole(payload: AgentPayload, ctx: RoleContext) {
  if (!ctx.childrenShareServerUser || payload.operation === 'stop') return null
  return {
    role: 'admin' as const,
    what: 'start agents',
    detail: "agents run as the server's own OS user here, so an agent could read the server's secrets",
  }
}

async function run(payload: AgentPayload, ctx: ActionContext): Promise<ActionOutcome> {
  const fail = failureOf(ctx)
  const agents = ctx.services.agents
  if (!agents) return fail('agent control is not available in this server')
  const opts = { actor: ctx.actor, signal: ctx.signal }
  ctx.log.line(`agent ${payload.agentId}: ${payload.operation}`)
  try {
    if (payload.operation === 'run') {
      const exit = await agents.runToCompletion(payload.agentId, {
        ...opts,
        onLog: (line) => ctx.log.line(line),
      })
      if (ctx.signal.aborted) {
        const flags = abortFlags(ctx.signal)
        return fail(`agent ${flags.timedOut ? 'timed out' : 'run canceled'}; it was stopped`, flags)
      }
      if (exit.exitCode === 0) {
        ctx.log.line('agent exited with code 0')
        return { ok: true }
      }
      return fail(
        exit.exitCode === null
          ? `agent was killed by ${exit.signal}`
          : `agent exited with code ${exit.exitCode}`,
      )
    }
    await agents[payload.operation](payload.agentId, opts)
    ctx.log.line(`agent ${payload.agentId}: ${payload.operation} done`)
    return { ok: true }
  } catch (err) {
    if (ctx.signal.aborted)
      return fail(`agent ${payload.operation} aborted: ${(err as Error).message}`, abortFlags(ctx.signal))
    return fail(`agent ${payload.operation} failed: ${(err as Error).message}`)
  }
}

export const agentAction: Action<AgentPayload> = {
  type: 'agent',
  payloadSchema: AgentPayloadSchema,
  validate,
  requiredRole,
  run,
}
