// Scheduler (issue 8): every firing inserts a run and moves it through
// pending -> running -> done, so each index on task_runs is paid three times a
// firing. The (task_id, status) index held every run ever recorded; the
// questions asked of it are only "which runs are pending / running" (overlap
// check, cancel on edit, orphan reaping), so two partial indexes that hold
// just the active runs answer them and stay a few entries small.

import { sql } from 'kysely'
import { createIndex } from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const taskRunActiveIndexes: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema.dropIndex('task_runs_task_status_idx').ifExists().execute()
    await sql`create index task_runs_running_idx on task_runs (task_id) where status = 'running'`.execute(db)
    await sql`create index task_runs_pending_idx on task_runs (task_id) where status = 'pending'`.execute(db)
  },
  async down(db: MigrationDb) {
    await db.schema.dropIndex('task_runs_pending_idx').ifExists().execute()
    await db.schema.dropIndex('task_runs_running_idx').ifExists().execute()
    await createIndex(db, 'task_runs_task_status_idx', 'task_runs', ['task_id', 'status'])
  },
})
