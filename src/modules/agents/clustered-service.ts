// The agents service of a node in a cluster (docs/SCALE-OUT.md). A running
// agent is held by one node through a lease ('agent', id): that node runs its
// process and is the only one whose state reports reach the database (fenced
// by the lease's epoch). Control actions that arrive at another node are
// routed to the holder (src/cluster/placement.ts) and answered with its
// result; an agent nobody holds is started on a node its nodeAffinity allows.
// A node that loses a lease stops the process at once. Every renewal interval
// a node takes the agents meant to run that nobody holds and it may run (a
// lost peer's unpinned agents, its own after a restart), ending first what a
// lost node left running on this host; agents pinned to a lost node are
// reported `node lost` (lost-node.ts).

import { sql } from 'kysely'
import type { Principal } from '../../auth/principal.js'
import type { ClusterNode } from '../../cluster/index.js'
import type { Lease, LeaseManager } from '../../cluster/leases.js'
import { ResourceRouter, type Routed } from '../../cluster/placement.js'
import { Reconciler } from '../../cluster/reconciler.js'
import type { NodeRpc } from '../../cluster/rpc.js'
import { adoptLeftovers } from './adoption.js'
import { endLostProcess, recordedByLostNode, reportNodeLost } from './lost-node.js'
import type { AgentRecord } from './repository.js'
import type { LogEntryView } from './schemas.js'
import { type AgentDetails, AgentsService, type AgentsServiceOptions } from './service.js'
import type { AgentActor, Caller } from './start-rules.js'

type Op = 'start' | 'stop' | 'restart' | 'delete' | 'logs'

interface Forwarded {
  caller: Caller
  id: string
  tail?: number
}

type RunExit = { exitCode: number | null; signal: string | null }

/** A forwarded `run` waits for the process's exit (the task's own timeout aborts it sooner). */
const RUN_FORWARD_TIMEOUT_MS = 24 * 60 * 60 * 1000

/** The lease kind of a running agent. */
export const AGENT_LEASE = 'agent'

export class ClusteredAgentsService extends AgentsService {
  private readonly leases: LeaseManager
  private readonly router: ResourceRouter
  /** The last lease held per agent: a report written after it was lost carries its stale epoch and is refused. */
  private readonly lastLease = new Map<string, Lease>()
  private readonly reconciler: Reconciler

  constructor(
    options: AgentsServiceOptions,
    private readonly cluster: ClusterNode & { leases: LeaseManager; rpc: NodeRpc },
    reconcileEveryMs: number,
  ) {
    const fence = (agentId: string) => {
      const lease = this.lastLease.get(agentId)
      // No lease was ever held here: this node has no say over the agent's state.
      return lease ? this.leases.fenceExpression(lease) : sql<boolean>`1 = 0`
    }
    super({ ...options, nodeName: cluster.node.name, fence })
    this.leases = cluster.leases
    this.router = new ResourceRouter(cluster)
    this.reconciler = new Reconciler(
      () => this.takeUnheld(),
      reconcileEveryMs,
      (err) => this.logger.warn({ err }, 'agent reconciliation failed'),
    )
    this.leases.onLost(AGENT_LEASE, async (lease, reason) => {
      this.logger.warn({ agentId: lease.id, reason }, 'lost the lease on a running agent; stopping it here')
      await this.supervisor.stop(lease.id)
    })
    for (const op of ['start', 'stop', 'restart', 'delete', 'logs'] as Op[]) {
      cluster.rpc.handle(`agents.${op}`, (params) => this.act(op, params as Forwarded, true))
    }
    cluster.rpc.handle('agents.run', (params) => {
      const p = params as { actor: AgentActor; id: string }
      // The caller's abort arrives as a routed stop, which ends this run's process.
      return this.runRouted(p.id, { actor: p.actor, signal: new AbortController().signal }, true)
    })
  }

  override async resume(): Promise<void> {
    const records = await this.repository.all()
    const adopted = await this.adoptContainers(records)
    const liveNames = new Set((await this.cluster.membership.live()).map((n) => n.name))
    liveNames.delete(this.cluster.node.name)
    for (const r of records) {
      if (adopted.has(r.id)) continue
      // A process a live peer recorded is that peer's, wherever it runs: never an orphan of ours.
      if (r.processNode && liveNames.has(r.processNode)) continue
      // Held by another node: its agent. Held under this node's name: a killed predecessor's lease
      // (not yet lapsed), whose process is this start's to end before the agent runs again.
      const holder = await this.leases.holder(AGENT_LEASE, r.id)
      if (holder && holder.nodeName !== this.cluster.node.name) continue
      await this.recover(r).catch((err) =>
        this.logger.warn({ agentId: r.id, err }, 'could not recover agent'),
      )
    }
    await this.reconciler.run()
    this.reconciler.schedule()
  }

  /**
   * Containers this node's name left running (a killed predecessor): adopted when
   * this node takes the agent's lease now, else stopped and removed (a peer holds
   * the agent, or the predecessor's lease has not lapsed yet: it starts afresh).
   */
  private adoptContainers(records: AgentRecord[]): Promise<Set<string>> {
    return adoptLeftovers(
      {
        supervisor: this.supervisor,
        logger: this.logger,
        find: this.findLeftovers,
        refusal: (r) => this.rules.startRefusal({ actor: { ownerId: null } }, r),
        claim: async (r) => {
          if (!this.router.eligible(r.nodeAffinity)) return false
          const lease = await this.leases.acquire(AGENT_LEASE, r.id, r.nodeAffinity)
          if (lease) this.lastLease.set(r.id, lease)
          return lease !== null
        },
      },
      records,
    )
  }

  override async stop(): Promise<void> {
    await this.reconciler.stop()
    // Stops the processes with their leases still held, so the last reports land; the
    // cluster releases the leases afterwards and a peer may take the unpinned agents.
    await super.stop()
  }

  protected override startAs(caller: Caller, id: string): Promise<AgentDetails> {
    return this.act('start', { caller, id }, false) as Promise<AgentDetails>
  }

  protected override stopAs(caller: Caller, id: string): Promise<AgentDetails> {
    return this.act('stop', { caller, id }, false) as Promise<AgentDetails>
  }

  protected override restartAs(caller: Caller, id: string): Promise<AgentDetails> {
    return this.act('restart', { caller, id }, false) as Promise<AgentDetails>
  }

  override async remove(principal: Principal, id: string): Promise<void> {
    // The role check stays the base's (it runs again on the holder with the same principal).
    await this.act('delete', { caller: { principal }, id }, false)
  }

  override async logs(principal: Principal, id: string, tail = 100): Promise<LogEntryView[]> {
    return (await this.act('logs', { caller: { principal }, id, tail }, false)) as LogEntryView[]
  }

  protected override runToCompletion(
    agentId: string,
    opts: { actor: AgentActor; signal: AbortSignal; onLog?: (line: string) => void },
  ): Promise<RunExit> {
    return this.runRouted(agentId, opts, false)
  }

  /**
   * The scheduler's `run`: on the node that may take the agent (under its lease,
   * released when the run ends), else forwarded to the node of its affinity and
   * awaited there for as long as the process runs. Aborting stops the agent
   * through the holder, which ends the run there.
   */
  private async runRouted(
    agentId: string,
    opts: { actor: AgentActor; signal: AbortSignal; onLog?: (line: string) => void },
    forwarded: boolean,
  ): Promise<RunExit> {
    const record = await this.visible({ actor: opts.actor }, agentId)
    let onAbort = () => {}
    // Run here, the base itself stops the process on abort and answers with its exit.
    let ranHere = false
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        if (ranHere) return
        void this.control.stop(agentId, { actor: opts.actor }).catch(() => {})
        reject(opts.signal.reason)
      }
    })
    aborted.catch(() => {})
    // Running here already (a start's lease): the base refuses the run, and the lease stays.
    const heldBefore = this.leases.holding(AGENT_LEASE, agentId) !== undefined
    const routed = this.router.route<RunExit>({
      kind: AGENT_LEASE,
      id: agentId,
      what: `agent ${agentId}`,
      affinity: record.nodeAffinity,
      takes: true,
      method: 'agents.run',
      params: { actor: opts.actor, id: agentId },
      forwarded,
      timeoutMs: RUN_FORWARD_TIMEOUT_MS,
      local: async (lease) => {
        ranHere = true
        if (lease) this.lastLease.set(agentId, lease)
        try {
          return await super.runToCompletion(agentId, opts)
        } finally {
          if (!heldBefore) {
            await this.flushWrites()
            await this.leases.release(AGENT_LEASE, agentId)
          }
        }
      },
    })
    if (!forwarded) opts.signal.addEventListener('abort', onAbort, { once: true })
    try {
      const result = await Promise.race([routed, aborted])
      if (result.where === 'remote')
        opts.onLog?.(`(ran on node "${result.node}"; its output is in the agent's log there)`)
      return result.value as RunExit
    } finally {
      opts.signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * This node's supervisor speaks for the agent only while this node holds it; a
   * copy it stopped (a lost lease, a paused node that woke) must not hide the
   * holder's state in the database.
   */
  protected override details(record: AgentRecord): AgentDetails {
    const details = super.details(record)
    return this.leases.holding(AGENT_LEASE, record.id) ? details : { ...details, facts: null }
  }

  /** One action, here under the lease or at the holder; a forwarded one never travels again. */
  private async act(op: Op, p: Forwarded, forwarded: boolean): Promise<unknown> {
    const record = await this.visible(p.caller, p.id)
    const takes = op === 'start' || op === 'restart'
    const routed: Routed<unknown> = await this.router.route({
      kind: AGENT_LEASE,
      id: p.id,
      what: `agent ${p.id}`,
      affinity: record.nodeAffinity,
      takes,
      method: `agents.${op}`,
      params: p,
      forwarded,
      local: (lease) => this.here(op, p, lease),
    })
    if (routed.where === 'here') return forwarded && op !== 'logs' ? null : routed.value
    if (op === 'logs') return routed.value
    if (op === 'delete') return undefined
    // The holder wrote the state before it answered: read it back for the caller.
    return this.details(await this.visible(p.caller, p.id))
  }

  private async here(op: Op, p: Forwarded, lease: Lease | null): Promise<unknown> {
    if (lease) this.lastLease.set(p.id, lease)
    switch (op) {
      case 'start':
        return this.keepingLeaseIfRunning(p.id, () => super.startAs(p.caller, p.id))
      case 'restart':
        return this.keepingLeaseIfRunning(p.id, () => super.restartAs(p.caller, p.id))
      case 'stop': {
        const details = await super.stopAs(p.caller, p.id)
        await this.flushWrites()
        await this.leases.release(AGENT_LEASE, p.id)
        return details
      }
      case 'delete': {
        if (!('principal' in p.caller)) throw new Error('agents.delete needs a principal')
        await super.remove(p.caller.principal, p.id)
        await this.leases.release(AGENT_LEASE, p.id)
        this.lastLease.delete(p.id)
        return undefined
      }
      case 'logs':
        if (!('principal' in p.caller)) throw new Error('agents.logs needs a principal')
        return super.logs(p.caller.principal, p.id, p.tail)
    }
  }

  /** A start that failed leaves no lease behind (nothing runs here). */
  private async keepingLeaseIfRunning<T>(id: string, start: () => Promise<T>): Promise<T> {
    try {
      return await start()
    } catch (err) {
      if (!this.supervisor.knows(id)) await this.leases.release(AGENT_LEASE, id)
      throw err
    }
  }

  private async takeUnheld(): Promise<void> {
    const records = await this.repository.all()
    const self = this.cluster.node.name
    let liveNames: Set<string> | null = null
    for (const r of records) {
      if (this.reconciler.stopping) return
      if (r.desiredState !== 'running' || this.leases.holding(AGENT_LEASE, r.id)) continue
      if (await this.leases.holder(AGENT_LEASE, r.id)) continue
      liveNames ??= new Set((await this.cluster.membership.live()).map((n) => n.name))
      const lostProcess = recordedByLostNode(r, liveNames, self)
      if (!this.router.eligible(r.nodeAffinity)) {
        // Pinned to another node: reported when that node is lost, never taken over.
        if (r.nodeAffinity !== null && !liveNames.has(r.nodeAffinity)) {
          const ended = lostProcess && (await endLostProcess(r, this.logger))
          await reportNodeLost(r, ended, {
            repository: this.repository,
            bus: this.events,
            logger: this.logger,
            unheld: this.leases.unheldExpression(AGENT_LEASE, r.id),
          }).catch((err) => this.logger.warn({ agentId: r.id, err }, 'could not report a lost node'))
        }
        continue
      }
      // The lost node's copy goes before this node starts one: exactly one runs afterwards.
      if (lostProcess) await endLostProcess(r, this.logger)
      try {
        await this.act('start', { caller: { actor: { ownerId: null } }, id: r.id }, true)
        this.logger.info({ agentId: r.id, node: this.cluster.node.name }, 'took over an agent nobody held')
      } catch (err) {
        this.logger.warn({ agentId: r.id, err }, 'could not take over agent')
      }
    }
  }
}
