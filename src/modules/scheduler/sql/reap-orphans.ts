// Ending the runs of processes that are gone (the reaper, reaper.ts, calls
// this on every heartbeat while it has peers). A process is gone when its row
// in `nodes` has no heartbeat newer than `staleBefore`, or, for a cluster node
// (a row with `expires_at`), as soon as its membership lapsed on the database
// clock: the moment the cluster declares it lost (docs/SCALE-OUT.md).

import { type ExpressionBuilder, type Kysely, sql } from 'kysely'
import { dbNow } from '../../../cluster/db-clock.js'
import type { DB, DbEngine } from '../../../db/types.js'
import { fromDbInt, fromDbTime, toDbTime } from '../../../db/values.js'
import type { RunStatus } from '../types.js'

/** When a process counts as gone: no heartbeat since `staleBefore`, or (cluster node) its membership lapsed. */
export interface Staleness {
  engine: DbEngine
  staleBefore: Date
}

/** The ids of the live processes: a cluster node until its expires_at, any other one while it beats. */
export function liveNodes(db: Kysely<DB>, { engine, staleBefore }: Staleness) {
  return db
    .selectFrom('nodes')
    .select('id')
    .where((eb) =>
      eb.or([
        eb.and([eb('expiresAt', 'is', null), eb('heartbeatAt', '>=', toDbTime(staleBefore))]),
        eb('expiresAt', '>', sql<string>`${sql.raw(dbNow(engine))}`),
      ]),
    )
}

/** The ids of the cluster nodes declared lost (membership lapsed) whose rows are still there. */
export function lostClusterNodes(db: Kysely<DB>, engine: DbEngine) {
  return db
    .selectFrom('nodes')
    .select('id')
    .where('expiresAt', 'is not', null)
    .where('expiresAt', '<=', sql<string>`${sql.raw(dbNow(engine))}`)
}

/** A run claimed by no process, or by another one that is gone. */
export function orphanRun(db: Kysely<DB>, selfId: string, staleness: Staleness) {
  const live = liveNodes(db, staleness)
  return (eb: ExpressionBuilder<DB, 'taskRuns'>) =>
    eb.or([
      eb('claimedBy', 'is', null),
      eb.and([eb('claimedBy', '!=', selfId), eb('claimedBy', 'not in', live)]),
    ])
}

/** A run the reaper failed: its task's retry policy applies to it. */
export interface ReapedRun {
  id: string
  taskId: string
  attempt: number
  scheduledFor: Date
}

export interface ReapedRuns {
  failed: number
  skipped: number
  peers: number
  failedRuns: ReapedRun[]
}

/**
 * Ends the runs of processes that are gone: not this one, and not one whose
 * heartbeat is newer than `staleBefore`. Running ones failed, pending ones
 * (claimed, never fired) skipped. Returns how many, and how many other
 * processes are alive (`peers`: while there are any, one of them may die
 * and leave runs behind, so the engine keeps looking).
 */
export async function reapOrphans(
  db: Kysely<DB>,
  selfId: string,
  staleness: Staleness,
  at: Date,
): Promise<ReapedRuns> {
  const { staleBefore } = staleness
  const orphan = orphanRun(db, selfId, staleness)
  // Nearly every call finds nothing to end: reads answer that without the
  // write lock (three empty writes every heartbeat were most of an idle
  // engine's CPU). They ask what the writes below would change; the nodes
  // table is a row per process, so it is read whole.
  const nodes = await db.selectFrom('nodes').select(['id', 'heartbeatAt', 'expiresAt']).execute()
  // This process's clock only decides whether to look closer; the writes below use the database's.
  const isStale = (n: { heartbeatAt: unknown; expiresAt: unknown }) =>
    (fromDbTime(n.heartbeatAt)?.getTime() ?? 0) < staleBefore.getTime() ||
    (n.expiresAt !== null && (fromDbTime(n.expiresAt)?.getTime() ?? 0) <= at.getTime())
  if (!nodes.some(isStale)) {
    const peers = nodes.filter((n) => n.id !== selfId).length
    const orphanedRun = await db
      .selectFrom('taskRuns')
      .select('id')
      .where('status', 'in', ['running', 'pending'])
      .where(orphan)
      .limit(1)
      .executeTakeFirst()
    if (!orphanedRun) return { failed: 0, skipped: 0, peers, failedRuns: [] }
  }
  const orphaned = (status: RunStatus) =>
    db.updateTable('taskRuns').where('status', '=', status).where(orphan)
  // Each failed run comes back to exactly one reaper (the row's update is the guard): it retries it.
  const failedRuns = await orphaned('running')
    .set({ status: 'failed', endTime: toDbTime(at), error: 'the scheduler process stopped during the run' })
    .returning(['id', 'taskId', 'attempt', 'scheduledFor'])
    .execute()
  const skipped = await orphaned('pending')
    .set({
      status: 'skipped',
      endTime: toDbTime(at),
      error: 'the scheduler process stopped before the run started',
    })
    .executeTakeFirst()
  await db.deleteFrom('nodes').where('heartbeatAt', '<', toDbTime(staleBefore)).execute()
  // Counted again: a process read as stale above may have beaten since, and kept its row.
  const left = await db
    .selectFrom('nodes')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('id', '!=', selfId)
    .executeTakeFirstOrThrow()
  return {
    failed: failedRuns.length,
    skipped: Number(skipped.numUpdatedRows),
    peers: fromDbInt(left.n),
    failedRuns: failedRuns.map((r) => ({
      id: r.id,
      taskId: r.taskId,
      attempt: fromDbInt(r.attempt),
      scheduledFor: fromDbTime(r.scheduledFor) as Date,
    })),
  }
}
