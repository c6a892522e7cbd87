// Scheduler (issue 8): which process claimed each run, and a heartbeat per
// process. Several Myntrix processes may share one database; at start-up (and
// on every heartbeat) a process fails only the runs of processes that stopped
// beating, never those of a live peer.

import { createIndex, keyedTable, required } from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const schedulerInstances: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('task_runs').addColumn('claimed_by', 'text').execute()
    await keyedTable(db, 'scheduler_instances')
      .addColumn('hostname', 'text')
      .addColumn('pid', 'integer')
      .$call(required(t.time, 'started_at', 'heartbeat_at'))
      .execute()
    await createIndex(db, 'task_runs_task_status_idx', 'task_runs', ['task_id', 'status'])
  },
  async down(db: MigrationDb) {
    await db.schema.dropIndex('task_runs_task_status_idx').ifExists().execute()
    await db.schema.dropTable('scheduler_instances').ifExists().execute()
    await db.schema.alterTable('task_runs').dropColumn('claimed_by').execute()
  },
})
