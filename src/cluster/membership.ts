// Which Myntrix nodes are alive on this database. A node is one server process:
// a new id at each start (so a restarted process never inherits its
// predecessor's leases) and a stable name (MYNTRIX_NODE_NAME, what
// `nodeAffinity` names). Its row in `nodes` is the same one the scheduler's and
// the jobs ledger's reapers read (src/process/liveness.ts); in a cluster it
// also carries `expires_at`, renewed with the node's leases, and a node is
// lost once that passes on the database clock.

import os from 'node:os'
import { announceChange } from '../db/change-feed.js'
import { rawQuery } from '../db/raw.js'
import type { Database, DbEngine } from '../db/types.js'
import { dbNow, dbNowPlusMs, dbPlusMs } from './db-clock.js'

export interface NodeIdentity {
  /** New at each start (the app's instanceId). */
  id: string
  /** Stable across restarts. */
  name: string
}

export interface LiveNode extends NodeIdentity {
  hostname: string | null
  pid: number | null
  /** False for a process that beats without a lease TTL: one started without MYNTRIX_REDIS_URL. */
  clustered: boolean
}

export class Membership {
  constructor(
    private readonly db: Database,
    private readonly engine: DbEngine,
    readonly node: NodeIdentity,
    private readonly ttlMs: number,
  ) {}

  /** Registers this node (or renews it when the row exists); announces a new row so idle peers look. */
  async join(): Promise<void> {
    if (await this.renew()) return
    await rawQuery(
      this.db,
      this.engine,
      `insert into nodes (id, name, hostname, pid, started_at, heartbeat_at, expires_at)
       values (?, ?, ?, ?, ${dbNow(this.engine)}, ${dbNow(this.engine)}, ${dbNowPlusMs(this.engine)})`,
      [this.node.id, this.node.name, os.hostname(), process.pid, this.ttlMs],
    )
    await announceChange(this.db, this.engine)
  }

  /** Pushes this node's expiry out by the TTL; false when its row is gone (a peer took it for dead). */
  async renew(): Promise<boolean> {
    const rows = await rawQuery<{ id: string }>(
      this.db,
      this.engine,
      `update nodes set heartbeat_at = ${dbNow(this.engine)}, expires_at = ${dbNowPlusMs(this.engine)}
       where id = ? returning id`,
      [this.ttlMs, this.node.id],
    )
    return rows.length > 0
  }

  /**
   * Nodes alive now, this one included when it is. A row without `expires_at` was
   * written by a process outside the cluster (its work heartbeat): alive while
   * that heartbeat is younger than the TTL.
   */
  async live(): Promise<LiveNode[]> {
    const now = dbNow(this.engine)
    const rows = await rawQuery<{
      id: string
      name: string | null
      hostname: string | null
      pid: unknown
      expiresAt: unknown
    }>(
      this.db,
      this.engine,
      `select id, name, hostname, pid, expires_at from nodes
       where coalesce(expires_at, ${dbPlusMs(this.engine, 'heartbeat_at')}) > ${now}`,
      [this.ttlMs],
    )
    return rows.map((r) => ({
      id: r.id,
      name: r.name ?? r.hostname ?? r.id,
      hostname: r.hostname,
      pid: r.pid === null || r.pid === undefined ? null : Number(r.pid),
      clustered: r.expiresAt !== null && r.expiresAt !== undefined,
    }))
  }

  /** A clean stop: the row goes, so peers need not wait for the TTL. */
  async leave(): Promise<void> {
    await rawQuery(this.db, this.engine, 'delete from nodes where id = ?', [this.node.id])
  }
}
