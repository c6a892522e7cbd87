// `agent`: start, stop or restart a supervised agent, or `run` it: start it and
// succeed when its process exits 0. The agents area implements AgentControl.

import { Checker } from './check.js'
import { type Action, type ActionContext, type ActionOutcome, abortFlags } from './types.js'

export const AGENT_OPERATIONS = ['start', 'stop', 'restart', 'run'] as const
export type AgentOperation = (typeof AGENT_OPERATIONS)[number]

export interface AgentPayload {
  agentId: string
  operation: AgentOperation
}

function validate(payload: unknown) {
  const c = new Checker()
  const obj = c.object(payload, ['agentId', 'operation'])
  if (!obj) return { ok: false as const, errors: c.errors }
  c.string(obj, 'agentId', { required: true, maxLength: 200 })
  c.oneOf(obj, 'operation', AGENT_OPERATIONS, { required: true })
  return c.errors.length > 0
    ? { ok: false as const, errors: c.errors }
    : { ok: true as const, value: obj as unknown as AgentPayload }
}

async function run(payload: AgentPayload, ctx: ActionContext): Promise<ActionOutcome> {
  const fail = (error: string, flags: { timedOut?: boolean; canceled?: boolean } = {}): ActionOutcome => {
    ctx.log.line(error)
    return { ok: false, error, ...flags }
  }
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

export const agentAction: Action<AgentPayload> = { type: 'agent', validate, run }
