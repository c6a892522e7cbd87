// The process heartbeat table is the membership of Myntrix server processes
// on one database (src/process/liveness.ts): the scheduler's and the jobs
// ledger's reapers read it, and the scale-out work builds on it. It was named
// after its first reader (scheduler_instances, migration 0401); it is `nodes`.

import { sql } from 'kysely'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const nodes: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('scheduler_instances').renameTo('nodes').execute()
    // PostgreSQL keeps the primary key's old name; SQLite's is implicit.
    if (t.engine === 'postgres')
      await sql`alter index scheduler_instances_pkey rename to nodes_pkey`.execute(db)
  },
  async down(db: MigrationDb) {
    if (t.engine === 'postgres')
      await sql`alter index nodes_pkey rename to scheduler_instances_pkey`.execute(db)
    await db.schema.alterTable('nodes').renameTo('scheduler_instances').execute()
  },
})
