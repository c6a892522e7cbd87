// The process groups `script` runs started (migration 0701), kept on the run
// until it ends, so that after a crash the next start, or a peer's reaper,
// can end a group before its run is failed and perhaps retried.

import type { Kysely } from 'kysely'
import type { DB } from '../../../db/types.js'
import { decodeProcess, encodeStartTime, type ProcessIdentity } from '../../../process/identity.js'
import { orphanRun, type Staleness } from './reap-orphans.js'

export async function setRunProcess(db: Kysely<DB>, id: string, identity: ProcessIdentity): Promise<void> {
  await db
    .updateTable('taskRuns')
    .set({ pid: identity.pid, pidStartTime: encodeStartTime(identity) })
    .where('id', '=', id)
    .execute()
}

export async function clearRunProcesses(db: Kysely<DB>, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  await db.updateTable('taskRuns').set({ pid: null, pidStartTime: null }).where('id', 'in', ids).execute()
}

/**
 * Processes recorded on runs that no live process looks after: running runs of
 * processes that are gone (as reapOrphans sees them), and finished runs that a
 * reaper on another host failed without being able to end their process.
 */
export async function orphanedRunProcesses(
  db: Kysely<DB>,
  selfId: string,
  staleness: Staleness,
): Promise<{ runId: string; process: ProcessIdentity }[]> {
  const orphan = orphanRun(db, selfId, staleness)
  const found = await db
    .selectFrom('taskRuns')
    .select(['id', 'pid', 'pidStartTime'])
    .where('pid', 'is not', null)
    .where((eb) => eb.or([eb('status', '!=', 'running'), orphan(eb)]))
    .execute()
  return found.flatMap((r) => {
    const identity = decodeProcess(r.pid, r.pidStartTime)
    return identity ? [{ runId: r.id, process: identity }] : []
  })
}
