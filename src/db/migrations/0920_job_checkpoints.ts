// Machine jobs (issue 20): where an interrupted job stood (its checkpoint,
// written while it runs so it survives a killed server) and which job a
// restarted one continues. A column of its own, not a key of `details`, so the
// throttled progress writes and the checkpoint writes never overwrite each other.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const jobCheckpoints: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('jobs').addColumn('checkpoint', t.json).execute()
    await db.schema.alterTable('jobs').addColumn('restart_of', 'text').execute()
  },
  async down(db: MigrationDb) {
    await db.schema.alterTable('jobs').dropColumn('restart_of').execute()
    await db.schema.alterTable('jobs').dropColumn('checkpoint').execute()
  },
})
