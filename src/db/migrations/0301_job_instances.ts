// Jobs (issue 7): which Myntrix process runs each job, so that a process
// starting on a shared database fails only the jobs of processes that are
// gone, never those of a live peer.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const jobInstances: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('jobs').addColumn('instance_id', 'text').execute()
  },
  async down(db: MigrationDb) {
    await db.schema.alterTable('jobs').dropColumn('instance_id').execute()
  },
})
