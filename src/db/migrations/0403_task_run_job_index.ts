// Scheduler (issue 8): run history retention deletes old `task.run` jobs, and
// task_runs.job_id references jobs (ON DELETE SET NULL). Without an index on
// job_id, each deleted job makes the database scan every run for references:
// a day of one per-second task is 86,400 scans of the whole history. Partial,
// so a run holds an entry only once it is linked to its job.

import { sql } from 'kysely'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const taskRunJobIndex: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await sql`create index task_runs_job_idx on task_runs (job_id) where job_id is not null`.execute(db)
  },
  async down(db: MigrationDb) {
    await db.schema.dropIndex('task_runs_job_idx').ifExists().execute()
  },
})
