// The agents service: CRUD and lifecycle rules over the repository and the
// supervisor. It persists what the supervisor reports (status, pid, health) and
// announces it on the bus as `agent.status` and `agent.log`; it resumes agents
// whose desired state is `running` at start-up, after ending any process group a
// killed server left behind.

import { assertRole, type Principal, visibleOr404 } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import type { Database } from '../../db/types.js'
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../../errors.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import { endOrphan } from '../../process/orphans.js'
import { adoptLeftovers } from './adoption.js'
import { assertAffinityChangeable } from './affinity.js'
import { ACTIVE_STATUSES, type AgentFacts } from './agent-entry.js'
import { normalizeAgentConfig, validateAgentConfig } from './config.js'
import { AgentNoCommandError } from './errors.js'
import { readLogTail } from './log-file.js'
import { AgentReports } from './reports.js'
import { type AgentRecord, AgentsRepository, type DefinitionPatch, type WriteFence } from './repository.js'
import { type DockerRuntimeConfig, mountErrors } from './runtime-config.js'
import type { AdoptedProcess } from './runtimes/types.js'
import { type CreateAgentBody, type LogEntryView, logView, type UpdateAgentBody } from './schemas.js'
import { type AgentActor, type Caller, StartRules } from './start-rules.js'
import { normalizedStopTimeout, stoppedState } from './stopped-state.js'
import type { Supervisor } from './supervisor.js'

export interface AgentsServiceOptions {
  db: Database
  bus: EventBus
  logger: Logger
  supervisor: Supervisor
  /** Where the supervisor writes the per-agent log files (for history after a restart). */
  logDir: string
  /**
   * True when agents run as the server's own OS user (no separate child user): then
   * an agent can read the server's secrets, so only admins may decide what one runs.
   */
  childrenShareServerUser?: boolean
  /** An agent's owner as the owner is now (the auth area's users); needed with childrenShareServerUser. */
  findOwner?: (id: string) => Promise<{ role: string; disabled: boolean } | undefined>
  /** Host paths no container may mount, admin or not (the server's data directory). */
  protectedPaths?: string[]
  /** What an earlier server of this node left running (containers by label). */
  findLeftovers?: () => Promise<AdoptedProcess[]>
  /** This node's name: new agents' default nodeAffinity, and the recorder of their processes. */
  nodeName?: string
  /** In a cluster: keeps a former holder's state reports out of the database. */
  fence?: (agentId: string) => WriteFence
  now?: () => Date
}

export interface AgentDetails {
  record: AgentRecord
  /** Live facts when this server's supervisor runs (or ran) the agent. */
  facts: AgentFacts | null
}

export const SHUTDOWN_STOP_TIMEOUT_MS = 7000

export class AgentsService {
  readonly repository: AgentsRepository
  protected readonly supervisor: Supervisor
  /** Protected: the cluster's subclass reports lost nodes on it. */
  protected readonly events: EventBus
  protected readonly logger: Logger
  private readonly logDir: string
  private readonly now: () => Date
  protected readonly rules: StartRules
  private readonly reports: AgentReports
  protected readonly findLeftovers: () => Promise<AdoptedProcess[]>
  private readonly protectedPaths: string[]
  private offSupervisor: (() => void) | null = null

  constructor(options: AgentsServiceOptions) {
    this.repository = new AgentsRepository(options.db, options.nodeName ?? null)
    this.supervisor = options.supervisor
    this.events = options.bus
    this.logger = options.logger
    this.logDir = options.logDir
    this.now = options.now ?? (() => new Date())
    this.findLeftovers = options.findLeftovers ?? (async () => [])
    this.protectedPaths = options.protectedPaths ?? []
    this.rules = new StartRules({
      childrenShareServerUser: options.childrenShareServerUser ?? false,
      findOwner: options.findOwner ?? (async () => undefined),
    })
    this.reports = new AgentReports({ ...options, repository: this.repository })
    this.offSupervisor = this.reports.follow(this.supervisor)
  }

  // ---- lifecycle of the area -------------------------------------------------

  /**
   * Start-up: end process groups a killed server left behind (recognised by pid +
   * start time), mark stale live states stopped, then start every agent whose
   * desired state is `running`.
   */
  async resume(): Promise<void> {
    const records = await this.repository.all()
    for (const r of records) this.reports.owners.set(r.id, r.ownerId)
    const adopted = await adoptLeftovers(
      {
        supervisor: this.supervisor,
        logger: this.logger,
        find: this.findLeftovers,
        refusal: (r) => this.rules.startRefusal({ actor: { ownerId: null } }, r),
      },
      records,
    )
    await Promise.all(records.filter((r) => !adopted.has(r.id)).map((r) => this.recover(r)))
    for (const r of records) {
      if (r.desiredState !== 'running' || adopted.has(r.id)) continue
      try {
        const refusal = await this.rules.startRefusal({ actor: { ownerId: null } }, r)
        if (refusal) {
          // Configured while children ran as another user: not run as the server's.
          await this.repository.updateRuntime(r.id, {
            ...stoppedState(r),
            status: 'error',
            statusReason: refusal,
          })
          this.logger.warn({ agentId: r.id }, refusal)
          continue
        }
        await this.supervisor.start(r.id, r.configuration, { restarts: r.restarts })
      } catch (err) {
        this.logger.warn({ agentId: r.id, err }, 'could not resume agent')
      }
    }
    // Recorded before start-up goes on, so a crash from here on leaves nothing unknown.
    await this.flushWrites()
  }

  /**
   * Graceful shutdown: stop every agent (desired states stay, so the next start
   * resumes them). main.ts allows 10 s for the whole shutdown, so no agent gets
   * more than SHUTDOWN_STOP_TIMEOUT_MS before SIGKILL.
   */
  async stop(): Promise<void> {
    await this.supervisor.stopAll({ maxTimeoutMs: SHUTDOWN_STOP_TIMEOUT_MS })
    this.offSupervisor?.()
    this.offSupervisor = null
    await this.flushWrites()
  }

  /** Resolves when every state report so far is in the database. */
  flushWrites(): Promise<void> {
    return this.reports.flushWrites()
  }

  protected async recover(r: AgentRecord): Promise<void> {
    let reason = r.statusReason
    if (r.process) {
      const timeoutMs = normalizedStopTimeout(r.configuration)
      const result = await endOrphan(r.process, timeoutMs)
      if (result.ended) {
        reason = `ended process group ${r.process.pid} left running by the previous server`
        this.logger.warn({ agentId: r.id, pid: r.process.pid, killed: result.killed }, reason)
      }
    }
    if (r.process || ACTIVE_STATUSES.has(r.status)) {
      await this.repository.updateRuntime(r.id, { ...stoppedState(r), statusReason: reason })
    }
  }

  // ---- queries ---------------------------------------------------------------

  async list(principal: Principal, page: { limit: number; offset: number }) {
    const { items, total } = await this.repository.list(
      principal.role === 'admin' ? null : principal.id,
      page,
    )
    return { items: items.map((r) => this.details(r)), total }
  }

  async get(principal: Principal, id: string): Promise<AgentDetails> {
    return this.details(await this.visible({ principal }, id))
  }

  /** An agent's name and owner, for other areas naming it (notifications); undefined when it is gone. */
  async facts(id: string): Promise<{ name: string; ownerId: string } | undefined> {
    const record = await this.repository.get(id)
    return record ? { name: record.name, ownerId: record.ownerId } : undefined
  }

  /** Live facts for other areas (the 3D scene); undefined when not supervised here. */
  liveFacts(id: string): { cpuPercent: number | null; memoryBytes: number | null } | undefined {
    if (!this.supervisor.knows(id)) return undefined
    const f = this.supervisor.status(id)
    return { cpuPercent: f.cpuPercent, memoryBytes: f.memoryBytes }
  }

  /** Newest `tail` lines: from memory when supervised here, else from the log files. */
  async logs(principal: Principal, id: string, tail = 100): Promise<LogEntryView[]> {
    await this.visible({ principal }, id)
    return this.recentLogs(id, tail)
  }

  async recentLogs(id: string, tail: number): Promise<LogEntryView[]> {
    if (this.supervisor.knows(id)) return this.supervisor.logs(id, tail).map(logView)
    const lines = await readLogTail(this.logDir, id, tail)
    return lines.map((l) => ({ seq: null, stream: l.stream, line: l.line, ts: l.ts.toISOString() }))
  }

  /** The ring's lines right now (synchronous, so a subscriber can attach without a gap). */
  bufferedLogs(id: string, tail: number): LogEntryView[] | null {
    return this.supervisor.knows(id) ? this.supervisor.logs(id, tail).map(logView) : null
  }

  // ---- changes ---------------------------------------------------------------

  async create(principal: Principal, input: CreateAgentBody): Promise<AgentDetails> {
    assertRole(principal, 'operator', 'create agents')
    this.rules.assertMayConfigure(principal, 'create agents')
    const configuration = this.checkConfiguration(input.configuration)
    this.rules.assertMayUseContainer(principal, configuration)
    const now = this.now()
    const record: AgentRecord = {
      id: newId(),
      name: input.name,
      type: input.type ?? 'generic',
      status: 'stopped',
      desiredState: 'stopped',
      health: 0,
      healthDetails: null,
      lastRun: null,
      configuration,
      ownerId: principal.id,
      process: null,
      startedAt: null,
      restarts: 0,
      lastExit: null,
      statusReason: null,
      createdAt: now,
      updatedAt: now,
      // Absent: the creating node (its command and cwd were written for this host); null: any node.
      nodeAffinity: input.nodeAffinity === undefined ? this.repository.nodeName : input.nodeAffinity,
      processNode: null,
    }
    await this.repository.insert(record)
    this.reports.owners.set(record.id, record.ownerId)
    return this.details(record)
  }

  /**
   * Changes name, type, configuration or nodeAffinity; a new configuration applies from the
   * next start or restart, a new nodeAffinity only to a stopped agent (409 otherwise).
   */
  async update(principal: Principal, id: string, input: UpdateAgentBody): Promise<AgentDetails> {
    assertRole(principal, 'operator', 'change agents')
    const current = await this.visible({ principal }, id)
    const patch: DefinitionPatch = {}
    if (input.name !== undefined) patch.name = input.name
    if (input.type !== undefined) patch.type = input.type
    if (input.configuration !== undefined) {
      this.rules.assertMayConfigure(principal, "change an agent's configuration")
      patch.configuration = this.checkConfiguration(input.configuration)
      this.rules.assertMayUseContainer(principal, patch.configuration)
    }
    // Sending the affinity it has (a console saving the whole form) is no change.
    if (input.nodeAffinity !== undefined && input.nodeAffinity !== current.nodeAffinity) {
      // Where a command runs is part of what it runs (that host's files and user).
      this.rules.assertMayConfigure(principal, "change an agent's nodeAffinity")
      const { facts } = this.details(current)
      assertAffinityChangeable(current, facts?.status ?? current.status)
      patch.nodeAffinity = input.nodeAffinity
    }
    const written = await this.repository.updateDefinition(id, patch, this.now())
    if (!written && patch.nodeAffinity !== undefined) {
      // The write needs it stopped: started meanwhile (409), deleted (404), or stopped again since.
      assertAffinityChangeable(await this.visible({ principal }, id), 'stopped')
      throw new ConflictError(`agent ${id} was started while its nodeAffinity was written; try again`)
    }
    return this.details(await this.visible({ principal }, id))
  }

  async start(principal: Principal, id: string): Promise<AgentDetails> {
    assertRole(principal, 'operator', 'start agents')
    return this.startAs({ principal }, id)
  }

  async stopAgent(principal: Principal, id: string): Promise<AgentDetails> {
    assertRole(principal, 'operator', 'stop agents')
    return this.stopAs({ principal }, id)
  }

  async restart(principal: Principal, id: string): Promise<AgentDetails> {
    assertRole(principal, 'operator', 'restart agents')
    return this.restartAs({ principal }, id)
  }

  /** Stops the agent, then removes its row and its log files. */
  async remove(principal: Principal, id: string): Promise<void> {
    assertRole(principal, 'operator', 'delete agents')
    const record = await this.visible({ principal }, id)
    await this.supervisor.remove(id, { deleteLogs: true })
    await this.reports.written(id)
    await this.repository.delete(id)
    this.reports.owners.delete(id)
    this.events.emit('agent.deleted', { agentId: id, ownerId: record.ownerId })
  }

  // ---- for other areas (scheduler `agent` action) -------------------------

  /** The operations the scheduler's `agent` action calls; ownership is checked against the actor. */
  readonly control = {
    start: async (agentId: string, opts: { actor: AgentActor }) => {
      await this.startAs({ actor: opts.actor }, agentId)
    },
    stop: async (agentId: string, opts: { actor: AgentActor }) => {
      await this.stopAs({ actor: opts.actor }, agentId)
    },
    restart: async (agentId: string, opts: { actor: AgentActor }) => {
      await this.restartAs({ actor: opts.actor }, agentId)
    },
    /** Starts the agent and resolves with the exit of its process; aborting stops it. */
    runToCompletion: (
      agentId: string,
      opts: { actor: AgentActor; signal: AbortSignal; onLog?: (line: string) => void },
    ): Promise<{ exitCode: number | null; signal: string | null }> => this.runToCompletion(agentId, opts),
  }

  protected async runToCompletion(
    agentId: string,
    opts: { actor: AgentActor; signal: AbortSignal; onLog?: (line: string) => void },
  ): Promise<{ exitCode: number | null; signal: string | null }> {
    const record = await this.visible({ actor: opts.actor }, agentId)
    const config = this.startable(record)
    await this.rules.assertMayStart({ actor: opts.actor }, record)
    // A run is its own process from start to exit: taking over a process someone
    // started (and then stopping it) would undo their intent.
    if (this.supervisor.knows(agentId)) {
      const { status } = this.supervisor.status(agentId)
      if (!['stopped', 'error'].includes(status)) {
        throw new ConflictError(`agent ${agentId} is ${status}; a run needs it stopped first`)
      }
    }
    let off: () => void = () => {}
    const exited = new Promise<{ exitCode: number | null; signal: string | null }>((resolve) => {
      off = this.supervisor.onEvent((e) => {
        if (e.agentId !== agentId) return
        if (e.type === 'log') opts.onLog?.(e.entry.line)
        else if (e.type === 'exit') resolve({ exitCode: e.exit.code, signal: e.exit.signal })
      })
    })
    const onAbort = () => void this.supervisor.stop(agentId)
    try {
      opts.signal.addEventListener('abort', onAbort, { once: true })
      await this.supervisor.start(agentId, config, { restarts: record.restarts })
      await this.reports.written(agentId)
      if (opts.signal.aborted) onAbort()
      const result = await exited
      // A run is one process: do not let the restart policy start another.
      await this.supervisor.stop(agentId)
      return result
    } finally {
      opts.signal.removeEventListener('abort', onAbort)
      off()
    }
  }

  // ---- internals -------------------------------------------------------------

  /** Start and restart, before the process: the caller may start it, it can run, the intent is recorded. */
  private async intendToRun(caller: Caller, id: string) {
    const record = await this.visible(caller, id)
    const config = this.startable(record)
    await this.rules.assertMayStart(caller, record)
    await this.repository.setDesiredState(id, 'running')
    record.desiredState = 'running'
    return { record, config }
  }

  protected async startAs(caller: Caller, id: string): Promise<AgentDetails> {
    const { record, config } = await this.intendToRun(caller, id)
    try {
      await this.supervisor.start(id, config, { restarts: record.restarts })
    } catch (err) {
      // The request failed: do not leave an intent to run that nothing carried out.
      await this.repository.setDesiredState(id, 'stopped')
      throw err
    }
    // The process identity is in the database before the caller hears "started":
    // a server killed right after still finds the process at its next start.
    await this.reports.written(id)
    return this.details(record)
  }

  protected async stopAs(caller: Caller, id: string): Promise<AgentDetails> {
    const record = await this.visible(caller, id)
    await this.repository.setDesiredState(id, 'stopped')
    record.desiredState = 'stopped'
    await this.supervisor.stop(id)
    return this.details(record)
  }

  protected async restartAs(caller: Caller, id: string): Promise<AgentDetails> {
    const { record, config } = await this.intendToRun(caller, id)
    await this.supervisor.restart(id, config, { restarts: record.restarts })
    await this.reports.written(id)
    return this.details(record)
  }

  /** The stored configuration, if it has a command (422 otherwise). */
  private startable(record: AgentRecord): Record<string, unknown> {
    const [error] = validateAgentConfig(record.configuration, 'configuration')
    if (error) {
      throw new UnprocessableError(
        `agent ${record.id} has an invalid stored configuration: ${error.path}: ${error.message}`,
      )
    }
    if (!normalizeAgentConfig(record.configuration).argv) throw new AgentNoCommandError(record.id)
    return record.configuration
  }

  private checkConfiguration(value: Record<string, unknown> | null | undefined): Record<string, unknown> {
    const configuration = value ?? {}
    const errors = validateAgentConfig(configuration, 'configuration')
    const runtime = configuration.runtime
    if (errors.length === 0 && typeof runtime === 'object' && runtime !== null) {
      errors.push(...mountErrors(runtime as DockerRuntimeConfig, this.protectedPaths))
    }
    if (errors.length > 0) {
      throw new ValidationError(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors)
    }
    return configuration
  }

  protected async visible(caller: Caller, id: string): Promise<AgentRecord> {
    const record = await this.repository.get(id)
    if ('principal' in caller) return visibleOr404(caller.principal, record, 'agent', id)
    const { actor } = caller
    if (!record || (actor.ownerId !== null && actor.role !== 'admin' && record.ownerId !== actor.ownerId)) {
      throw new NotFoundError('agent', id)
    }
    this.reports.owners.set(id, record.ownerId)
    return record
  }

  protected details(record: AgentRecord): AgentDetails {
    this.reports.owners.set(record.id, record.ownerId)
    return { record, facts: this.supervisor.knows(record.id) ? this.supervisor.status(record.id) : null }
  }
}
