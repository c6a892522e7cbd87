// What the supervisor reports about agents, recorded and announced: status and
// health go to the database in the order they happened (one chain of writes
// per agent) and out on the bus as `agent.status`, `agent.log` and `agent.exited`.

import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import type { AgentFacts } from './agent-entry.js'
import type { LogEntry } from './log-buffer.js'
import type { AgentRuntimeState, AgentsRepository, StoredExit, WriteFence } from './repository.js'
import type { Supervisor } from './supervisor.js'

export class AgentReports {
  /** agentId -> ownerId, for bus events (filled whenever a record is read). */
  readonly owners = new Map<string, string>()
  /** Per-agent chain of database writes, so reports land in the order they happened. */
  private readonly writes = new Map<string, Promise<void>>()

  constructor(
    private readonly deps: {
      repository: AgentsRepository
      bus: EventBus
      logger: Logger
      /** In a cluster: the guard that keeps a former holder's reports out of the database. */
      fence?: (agentId: string) => WriteFence
    },
  ) {}

  /** Records and announces the supervisor's events; returns the unsubscribe function. */
  follow(supervisor: Supervisor): () => void {
    return supervisor.onEvent((e) => {
      if (e.type === 'status') this.onStatus(e.facts)
      else if (e.type === 'health') this.onHealth(e.facts)
      else if (e.type === 'log') this.onLog(e.agentId, e.entry)
      else this.onExit(e.agentId, e.exit, e.expected)
    })
  }

  /** Resolves when the reports about this agent so far are in the database. */
  async written(agentId: string): Promise<void> {
    await this.writes.get(agentId)
  }

  private onStatus(facts: AgentFacts): void {
    const running = facts.status === 'running' && facts.startedAt !== null
    const state: AgentRuntimeState = {
      status: facts.status,
      statusReason: facts.reason,
      health: facts.health,
      healthDetails: facts.healthDetails,
      process: facts.process,
      startedAt: facts.startedAt,
      restarts: facts.restarts,
      lastExit: storedExit(facts),
      ...(running ? { lastRun: facts.startedAt! } : {}),
    }
    this.write(facts.agentId, () =>
      this.deps.repository.updateRuntime(facts.agentId, state, this.deps.fence?.(facts.agentId)),
    )
    this.announce(facts)
  }

  private onHealth(facts: AgentFacts): void {
    this.write(facts.agentId, () =>
      this.deps.repository.updateHealth(
        facts.agentId,
        facts.health,
        facts.healthDetails,
        this.deps.fence?.(facts.agentId),
      ),
    )
    this.announce(facts)
  }

  private onLog(agentId: string, entry: LogEntry): void {
    this.deps.bus.emit('agent.log', {
      agentId,
      stream: entry.stream,
      line: entry.line,
      ts: entry.ts.toISOString(),
    })
  }

  private onExit(
    agentId: string,
    exit: { code: number | null; signal: string | null; at: Date },
    expected: boolean,
  ): void {
    const ownerId = this.owners.get(agentId) ?? ''
    const { code, signal } = exit
    this.deps.bus.emit('agent.exited', {
      agentId,
      ownerId,
      code,
      signal,
      at: exit.at.toISOString(),
      expected,
    })
  }

  private announce(facts: AgentFacts): void {
    this.deps.bus.emit('agent.status', {
      agentId: facts.agentId,
      ownerId: this.owners.get(facts.agentId) ?? '',
      status: facts.status,
      health: facts.health,
      pid: facts.pid,
      reason: facts.reason,
      // The check part scores 0 only when a configured check failed (docs/AGENTS.md, Health).
      checkFailure:
        facts.status === 'running' && facts.healthDetails.check.score === 0
          ? facts.healthDetails.check.detail
          : null,
    })
  }

  private write(agentId: string, fn: () => Promise<void>): void {
    const prev = this.writes.get(agentId) ?? Promise.resolve()
    const next = prev
      .then(fn)
      .catch((err) => this.deps.logger.error({ err, agentId }, 'could not record agent state'))
      .finally(() => {
        if (this.writes.get(agentId) === next) this.writes.delete(agentId)
      })
    this.writes.set(agentId, next)
  }

  /** Resolves when every state report so far is in the database. */
  async flushWrites(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes.values()])
  }
}

function storedExit(facts: AgentFacts): StoredExit | null {
  const e = facts.lastExit
  return e
    ? { code: e.code, signal: e.signal, at: e.at.toISOString(), oomKilled: e.oomKilled === true }
    : null
}
