// Ending the runs of processes that are gone (the reaper, reaper.ts, calls
// this on every heartbeat while it has peers). A process is gone when its row
// in `nodes` has no heartbeat newer than `staleBefore`.

import type { ExpressionBuilder, Kysely } from 'kysely'
import type { DB } from '../../../db/types.js'
import { fromDbInt, fromDbTime, toDbTime } from '../../../db/values.js'
import type { RunStatus } from '../types.js'

/** The ids of the processes with a heartbeat at or after `staleBefore`. */
export function liveNodes(db: Kysely<DB>, staleBefore: Date) {
  return db.selectFrom('nodes').select('id').where('heartbeatAt', '>=', toDbTime(staleBefore))
}

/** A run claimed by no process, or by another one without a fresh heartbeat. */
export function orphanRun(db: Kysely<DB>, selfId: string, staleBefore: Date) {
  const live = liveNodes(db, staleBefore)
  return (eb: ExpressionBuilder<DB, 'taskRuns'>) =>
    eb.or([
      eb('claimedBy', 'is', null),
      eb.and([eb('claimedBy', '!=', selfId), eb('claimedBy', 'not in', live)]),
    ])
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
  staleBefore: Date,
  at: Date,
): Promise<{ failed: number; skipped: number; peers: number }> {
  const orphan = orphanRun(db, selfId, staleBefore)
  // Nearly every call finds nothing to end: reads answer that without the
  // write lock (three empty writes every heartbeat were most of an idle
  // engine's CPU). They ask what the writes below would change; the nodes
  // table is a row per process, so it is read whole.
  const nodes = await db.selectFrom('nodes').select(['id', 'heartbeatAt']).execute()
  const isStale = (n: { heartbeatAt: unknown }) =>
    (fromDbTime(n.heartbeatAt)?.getTime() ?? 0) < staleBefore.getTime()
  if (!nodes.some(isStale)) {
    const peers = nodes.filter((n) => n.id !== selfId).length
    const orphanedRun = await db
      .selectFrom('taskRuns')
      .select('id')
      .where('status', 'in', ['running', 'pending'])
      .where(orphan)
      .limit(1)
      .executeTakeFirst()
    if (!orphanedRun) return { failed: 0, skipped: 0, peers }
  }
  const orphaned = (status: RunStatus) =>
    db.updateTable('taskRuns').where('status', '=', status).where(orphan)
  const failed = await orphaned('running')
    .set({ status: 'failed', endTime: toDbTime(at), error: 'the scheduler process stopped during the run' })
    .executeTakeFirst()
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
    failed: Number(failed.numUpdatedRows),
    skipped: Number(skipped.numUpdatedRows),
    peers: fromDbInt(left.n),
  }
}
