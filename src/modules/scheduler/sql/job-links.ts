// A run's link to its jobs-ledger entry. The runs started in one turn (a busy
// second's firings) link their jobs in one statement (src/db/turn-batch.ts).

import type { Kysely } from 'kysely'
import { rawQuery, rows } from '../../../db/raw.js'
import { TurnBatch } from '../../../db/turn-batch.js'
import type { DB, DbEngine } from '../../../db/types.js'

export function jobLinker(db: Kysely<DB>, engine: DbEngine): (runId: string, jobId: string) => Promise<void> {
  const links = new TurnBatch<{ id: string; jobId: string }, undefined>(async (batch) => {
    await rawQuery(
      db,
      engine,
      `with v(run_id, new_job_id) as (values ${rows(batch.length, '(?, ?)')})` +
        ' update task_runs set job_id = v.new_job_id from v where task_runs.id = v.run_id',
      batch.flatMap((l) => [l.id, l.jobId]),
    )
    return batch.map(() => undefined)
  })
  return (id, jobId) => links.add({ id, jobId })
}
