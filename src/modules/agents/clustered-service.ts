// The agents service of a node in a cluster (docs/SCALE-OUT.md). A running
// agent is held by one node through a lease ('agent', id): that node runs its
// process and is the only one whose state reports reach the database (fenced
// by the lease's epoch). Control actions that arrive at another node are
// routed to the holder (src/cluster/placement.ts) and answered with its
// result; an agent nobody holds is started on a node its nodeAffinity allows.
// A node that loses a lease stops the process at once. Every renewal interval
// a node takes the agents meant to run that nobody holds and it may run (a
// lost peer's unpinned agents, its own after a restart).

import { sql } from 'kysely'
import type { Principal } from '../../auth/principal.js'
import type { ClusterNode } from '../../cluster/index.js'
import type { Lease, LeaseManager } from '../../cluster/leases.js'
import { ResourceRouter, type Routed } from '../../cluster/placement.js'
import { Reconciler } from '../../cluster/reconciler.js'
import type { NodeRpc } from '../../cluster/rpc.js'
import type { AgentRecord } from './repository.js'
import type { LogEntryView } from './schemas.js'
import { type AgentDetails, AgentsService, type AgentsServiceOptions } from './service.js'
import type { Caller } from './start-rules.js'

type Op = 'start' | 'stop' | 'restart' | 'delete' | 'logs'

interface Forwarded {
  caller: Caller
  id: string
  tail?: number
}

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
  }

  override async resume(): Promise<void> {
    const records = await this.repository.all()
    const liveNames = new Set((await this.cluster.membership.live()).map((n) => n.name))
    liveNames.delete(this.cluster.node.name)
    for (const r of records) {
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
    for (const r of records) {
      if (this.reconciler.stopping) return
      if (!this.wanted(r) || this.leases.holding(AGENT_LEASE, r.id)) continue
      if (await this.leases.holder(AGENT_LEASE, r.id)) continue
      try {
        await this.act('start', { caller: { actor: { ownerId: null } }, id: r.id }, true)
        this.logger.info({ agentId: r.id, node: this.cluster.node.name }, 'took over an agent nobody held')
      } catch (err) {
        this.logger.warn({ agentId: r.id, err }, 'could not take over agent')
      }
    }
  }

  private wanted(r: AgentRecord): boolean {
    return r.desiredState === 'running' && this.router.eligible(r.nodeAffinity)
  }
}
