// Where an action on an owned resource runs. A service asks the router instead
// of acting at once: when this node holds the resource (or may take it now),
// the action runs here under the lease; when another node holds it, the
// request goes to that node (rpc) and its answer is the answer; an unheld
// resource pinned to another node goes to a live node of that name. Routes
// know nothing of this. On one instance every action runs here, without a
// lease. Agents use it now; devices are meant to use the same seam.

import { UnavailableError } from '../errors.js'
import type { ClusterNode } from './index.js'
import type { Lease } from './leases.js'

export interface RouteRequest<T> {
  kind: string
  id: string
  /** How a 503 names the resource ("agent 0193..."). */
  what: string
  /** The node name the resource must run on; null = any node. */
  affinity: string | null
  /** The action starts the resource, so an unheld one is taken (start, restart); else it runs unheld here. */
  takes: boolean
  /** The rpc method the holder answers, and what it is sent. */
  method: string
  params: unknown
  /** The request was forwarded once already: act here or refuse, never forward again. */
  forwarded?: boolean
  /** How long a forwarded request may take (default: the cluster's rpc timeout); a long action sets more. */
  timeoutMs?: number
  /** The action itself, on this node (lease: this node's, or null for an unheld resource). */
  local: (lease: Lease | null) => Promise<T>
}

export type Routed<T> = { where: 'here'; value: T } | { where: 'remote'; node: string; value: unknown }

export class ResourceRouter {
  constructor(private readonly cluster: ClusterNode) {}

  get clustered(): boolean {
    return this.cluster.leases !== null
  }

  /** Whether the resource may run on this node. */
  eligible(affinity: string | null): boolean {
    return affinity === null || affinity === this.cluster.node.name
  }

  async route<T>(r: RouteRequest<T>): Promise<Routed<T>> {
    const { leases, rpc } = this.cluster
    if (!leases || !rpc) return { where: 'here', value: await r.local(null) }
    const mine = leases.holding(r.kind, r.id)
    if (mine) return { where: 'here', value: await r.local(mine) }
    const holder = await leases.holder(r.kind, r.id)
    if (holder && holder.nodeId !== this.cluster.node.id) return this.forward(r, holder)
    if (!r.takes) return { where: 'here', value: await r.local(null) }
    if (this.eligible(r.affinity)) {
      const lease = await leases.acquire(r.kind, r.id, r.affinity)
      if (lease) return { where: 'here', value: await r.local(lease) }
      // Another node won the race for it: that node answers.
      const winner = await leases.holder(r.kind, r.id)
      if (winner && winner.nodeId !== this.cluster.node.id) return this.forward(r, winner)
      throw new UnavailableError(`${r.what} could not be taken by this node; try again`)
    }
    if (r.forwarded) throw new UnavailableError(`${r.what} runs only on node "${r.affinity}"`)
    const target = (await this.cluster.membership.live()).find((n) => n.name === r.affinity && n.clustered)
    if (!target) {
      throw new UnavailableError(`${r.what} runs only on node "${r.affinity}", which is not running`)
    }
    return this.forward(r, { nodeId: target.id, nodeName: target.name })
  }

  private async forward<T>(r: RouteRequest<T>, to: { nodeId: string; nodeName: string }): Promise<Routed<T>> {
    if (r.forwarded)
      throw new UnavailableError(`${r.what} moved to node "${to.nodeName}" meanwhile; try again`)
    const node = { id: to.nodeId, name: to.nodeName }
    // route() only forwards when the cluster has rpc.
    const value = await this.cluster.rpc!.call(node, r.method, r.params, r.what, r.timeoutMs)
    return { where: 'remote', node: node.name, value }
  }
}
