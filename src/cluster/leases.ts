// Ownership by lease. A resource (a running agent) is held by one node through
// a row of resource_leases; every change is one compare-and-set statement whose
// WHERE is the guard, so two nodes racing for a resource cannot both win, and
// nothing but PostgreSQL decides (no election, no protocol of our own).
//
// - acquire: wins when the row is free, expired, or already this node's, and
//   the resource may run here (affinity null or this node's name). The epoch
//   goes up when the holder changes: the fencing token (fence()).
// - renew: one statement for every lease this node holds, each renewal
//   interval, after the node's membership. A lease missing from its answer was
//   taken or expired: it is lost.
// - a node that could not renew for ttl - renew stops what it holds (the
//   kind's onLost callback) BEFORE the lease expires and anyone may take it,
//   then releases the rows. A node paused past that point (SIGSTOP, a frozen
//   VM) stops its copy at the first timer after it wakes.

import { performance } from 'node:perf_hooks'
import { type RawBuilder, sql } from 'kysely'
import { rawQuery } from '../db/raw.js'
import type { Database, DbEngine } from '../db/types.js'
import { fromDbInt } from '../db/values.js'
import { dbNow, dbNowPlusMs } from './db-clock.js'
import type { Membership } from './membership.js'

export interface Lease {
  kind: string
  id: string
  epoch: number
}

export interface LeaseHolder {
  nodeId: string
  nodeName: string
  epoch: number
}

/** Why a lease was lost: this node could not renew in time, or another node holds it now. */
export type LossReason = 'expired' | 'taken'

export type LostListener = (lease: Lease, reason: LossReason) => void | Promise<void>

export interface LeaseManagerOptions {
  db: Database
  engine: DbEngine
  membership: Membership
  ttlMs: number
  renewIntervalMs: number
  onError?: (err: unknown) => void
}

const key = (kind: string, id: string) => `${kind}\u0000${id}`

export class LeaseManager {
  private readonly held = new Map<string, Lease>()
  private readonly lostListeners = new Map<string, LostListener>()
  /** Statements that change this node's leases run one at a time, so renew never races acquire. */
  private queue: Promise<unknown> = Promise.resolve()
  /** performance.now() when the last successful renewal was sent: expiry is at least ttl after it. */
  private renewedAt = performance.now()
  private timer: NodeJS.Timeout | null = null
  private watchdog: NodeJS.Timeout | null = null
  private stopped = false

  constructor(private readonly opts: LeaseManagerOptions) {}

  get nodeId(): string {
    return this.opts.membership.node.id
  }

  get nodeName(): string {
    return this.opts.membership.node.name
  }

  /** What to do when a lease of `kind` is lost (stop the agent's process). One listener per kind. */
  onLost(kind: string, listener: LostListener): void {
    this.lostListeners.set(kind, listener)
  }

  /** Joins the membership and renews every renewIntervalMs until stop(). */
  async start(): Promise<void> {
    await this.opts.membership.join()
    this.renewedAt = performance.now()
    this.schedule()
    this.watch()
  }

  /** Idempotent: stops renewing, releases every lease still held (after its holder stopped it), leaves. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    if (this.watchdog) clearInterval(this.watchdog)
    this.timer = null
    this.watchdog = null
    await this.serial(async () => {
      for (const lease of this.held.values()) await this.releaseRow(lease)
      this.held.clear()
    }).catch((err) => this.opts.onError?.(err))
    await this.opts.membership.leave().catch((err) => this.opts.onError?.(err))
  }

  /** Takes or keeps the lease; null when another live node holds it or `affinity` names another node. */
  acquire(kind: string, id: string, affinity: string | null): Promise<Lease | null> {
    return this.serial(async () => {
      const e = this.opts.engine
      const rows = await rawQuery<{ epoch: unknown }>(
        this.opts.db,
        e,
        `insert into resource_leases (kind, id, holder_node_id, holder_name, epoch, expires_at, affinity, acquired_at)
         select ?, ?, ?, ?, 1, ${dbNowPlusMs(e)}, ?, ${dbNow(e)}
         where cast(? as text) is null or cast(? as text) = ?
         on conflict (kind, id) do update set
           holder_node_id = excluded.holder_node_id,
           holder_name = excluded.holder_name,
           expires_at = excluded.expires_at,
           affinity = excluded.affinity,
           acquired_at = case when resource_leases.holder_node_id = excluded.holder_node_id
             then resource_leases.acquired_at else excluded.acquired_at end,
           epoch = resource_leases.epoch + case when resource_leases.holder_node_id = excluded.holder_node_id
             then 0 else 1 end
         where resource_leases.holder_node_id = excluded.holder_node_id
           or resource_leases.holder_node_id is null
           or resource_leases.expires_at <= ${dbNow(e)}
         returning epoch`,
        [kind, id, this.nodeId, this.nodeName, this.opts.ttlMs, affinity, affinity, affinity, this.nodeName],
      )
      const row = rows[0]
      if (!row) return null
      const lease = { kind, id, epoch: fromDbInt(row.epoch) }
      this.held.set(key(kind, id), lease)
      return lease
    })
  }

  /** The lease this node holds on the resource, if any (as this node knows it). */
  holding(kind: string, id: string): Lease | undefined {
    return this.held.get(key(kind, id))
  }

  /** Every lease of `kind` this node holds. */
  heldOf(kind: string): Lease[] {
    return [...this.held.values()].filter((l) => l.kind === kind)
  }

  /** Who holds the resource now (an unexpired lease), or null when nobody does. */
  async holder(kind: string, id: string): Promise<LeaseHolder | null> {
    const rows = await rawQuery<{ holderNodeId: string; holderName: string; epoch: unknown }>(
      this.opts.db,
      this.opts.engine,
      `select holder_node_id, holder_name, epoch from resource_leases
       where kind = ? and id = ? and holder_node_id is not null and expires_at > ${dbNow(this.opts.engine)}`,
      [kind, id],
    )
    const row = rows[0]
    return row ? { nodeId: row.holderNodeId, nodeName: row.holderName, epoch: fromDbInt(row.epoch) } : null
  }

  /** Gives the lease up (after the resource was stopped here); the epoch stays, the next holder bumps it. */
  release(kind: string, id: string): Promise<void> {
    return this.serial(async () => {
      const lease = this.held.get(key(kind, id))
      if (!lease) return
      this.held.delete(key(kind, id))
      await this.releaseRow(lease)
    })
  }

  /**
   * A guard for a write that must only land while `lease` is still this node's:
   * append it to the write's WHERE with its parameters. A former holder's write
   * (stale epoch, or expired) then changes nothing.
   */
  fence(lease: Lease): { sql: string; params: unknown[] } {
    return {
      sql: `exists (select 1 from resource_leases fence_l where fence_l.kind = ? and fence_l.id = ?
            and fence_l.epoch = ? and fence_l.holder_node_id = ? and fence_l.expires_at > ${dbNow(this.opts.engine)})`,
      params: [lease.kind, lease.id, lease.epoch, this.nodeId],
    }
  }

  /** fence() for a Kysely query: `.where(leases.fenceExpression(lease))`. */
  fenceExpression(lease: Lease): RawBuilder<boolean> {
    const now = sql.raw(dbNow(this.opts.engine))
    return sql<boolean>`exists (select 1 from resource_leases fence_l where fence_l.kind = ${lease.kind}
      and fence_l.id = ${lease.id} and fence_l.epoch = ${lease.epoch}
      and fence_l.holder_node_id = ${this.nodeId} and fence_l.expires_at > ${now})`
  }

  /** A guard for a write that must only land while nobody holds the resource (an unexpired lease). */
  unheldExpression(kind: string, id: string): RawBuilder<boolean> {
    const now = sql.raw(dbNow(this.opts.engine))
    return sql<boolean>`not exists (select 1 from resource_leases held_l where held_l.kind = ${kind}
      and held_l.id = ${id} and held_l.holder_node_id is not null and held_l.expires_at > ${now})`
  }

  /** Whether `lease` is still this node's on the database (the fence as a question). */
  async stillHolds(lease: Lease): Promise<boolean> {
    const f = this.fence(lease)
    const rows = await rawQuery(this.opts.db, this.opts.engine, `select 1 as ok where ${f.sql}`, f.params)
    return rows.length > 0
  }

  /**
   * Renews the membership, then every lease in one statement. Leases that did not
   * come back were taken or had expired: their holders are told to stop them.
   */
  renewAll(): Promise<void> {
    return this.serial(async () => {
      if (this.overdue()) await this.loseAll('expired')
      const sentAt = performance.now()
      if (!(await this.opts.membership.renew())) await this.opts.membership.join()
      const e = this.opts.engine
      const rows = await rawQuery<{ kind: string; id: string; epoch: unknown }>(
        this.opts.db,
        e,
        `update resource_leases set expires_at = ${dbNowPlusMs(e)}
         where holder_node_id = ? and expires_at > ${dbNow(e)}
         returning kind, id, epoch`,
        [this.opts.ttlMs, this.nodeId],
      )
      this.renewedAt = sentAt
      const renewed = new Map(rows.map((r) => [key(r.kind, r.id), fromDbInt(r.epoch)]))
      for (const [k, lease] of [...this.held]) {
        if (renewed.get(k) === lease.epoch) continue
        this.held.delete(k)
        await this.tellLost(lease, 'taken')
      }
      // Rows renewed for a lease this node already gave up (the watchdog stopped it
      // while this renewal hung): free them rather than keep what nothing runs.
      for (const r of rows) {
        const lease = { kind: r.kind, id: r.id, epoch: fromDbInt(r.epoch) }
        if (!this.held.has(key(r.kind, r.id))) await this.releaseRow(lease)
      }
    })
  }

  /** Past ttl - renew since the last renewal was sent: the lease may expire before the next one lands. */
  private overdue(): boolean {
    return (
      this.held.size > 0 && performance.now() - this.renewedAt >= this.opts.ttlMs - this.opts.renewIntervalMs
    )
  }

  private async loseAll(reason: LossReason): Promise<void> {
    const leases = [...this.held.values()]
    this.held.clear()
    for (const lease of leases) {
      await this.tellLost(lease, reason)
      // Stopped here: free the row so a peer need not wait for the TTL (no-op if it was taken).
      await this.releaseRow(lease).catch((err) => this.opts.onError?.(err))
    }
  }

  private async tellLost(lease: Lease, reason: LossReason): Promise<void> {
    try {
      await this.lostListeners.get(lease.kind)?.(lease, reason)
    } catch (err) {
      this.opts.onError?.(err)
    }
  }

  private async releaseRow(lease: Lease): Promise<void> {
    await rawQuery(
      this.opts.db,
      this.opts.engine,
      `update resource_leases set holder_node_id = null, holder_name = null, expires_at = null
       where kind = ? and id = ? and holder_node_id = ? and epoch = ?`,
      [lease.kind, lease.id, this.nodeId, lease.epoch],
    )
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.renewAll()
        .catch((err) => this.opts.onError?.(err))
        .finally(() => this.schedule())
    }, this.opts.renewIntervalMs)
    this.timer.unref()
  }

  /**
   * Beside the renewal queue, so it acts even while a renewal hangs (a database
   * that stopped answering): past ttl - renew, stop everything held.
   */
  private watch(): void {
    const everyMs = Math.max(10, Math.floor(this.opts.renewIntervalMs / 4))
    this.watchdog = setInterval(() => {
      if (this.overdue()) void this.loseAll('expired').catch((err) => this.opts.onError?.(err))
    }, everyMs)
    this.watchdog.unref()
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return run
  }
}
