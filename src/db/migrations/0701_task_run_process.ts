// Script task processes after a crash (issue 23): a `script` run records the
// process group it started (pid + start time, as agents do), so a server
// killed with SIGKILL leaves a group the next start, or a peer's reaper, can
// recognise and end before the run is failed and retried. Only runs whose
// process may still live keep a pid (a finished run clears it), so the
// partial index stays a few entries small.

import { sql } from 'kysely'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const taskRunProcess: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('task_runs').addColumn('pid', 'integer').execute()
    await db.schema.alterTable('task_runs').addColumn('pid_start_time', 'text').execute()
    await sql`create index task_runs_process_idx on task_runs (pid) where pid is not null`.execute(db)
  },
  async down(db: MigrationDb) {
    await db.schema.dropIndex('task_runs_process_idx').ifExists().execute()
    await db.schema.alterTable('task_runs').dropColumn('pid_start_time').execute()
    await db.schema.alterTable('task_runs').dropColumn('pid').execute()
  },
})
