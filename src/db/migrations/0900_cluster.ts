// Scale-out (docs/SCALE-OUT.md). A node row gains its stable name and the time
// its membership lapses (on PostgreSQL the database clock decides, so the
// nodes' own clocks need not agree). resource_leases holds one row per owned
// resource (a running agent): who holds it, until when, and an epoch that goes
// up each time the holder changes, so a write by a former holder can be
// refused (fencing). Agents gain where they may run (node_affinity) and which
// node recorded their process (process_node), so a starting node ends only its
// own orphans, never a peer's live agents.

import { createIndex, optional, required } from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const cluster: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('nodes').addColumn('name', 'text').execute()
    await db.schema.alterTable('nodes').addColumn('expires_at', t.time).execute()
    await db.schema
      .createTable('resource_leases')
      .$call(required('text', 'kind', 'id'))
      .$call(optional('text', 'holder_node_id', 'holder_name'))
      .addColumn('epoch', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('expires_at', t.time)
      .addColumn('affinity', 'text')
      .addColumn('acquired_at', t.time)
      .addPrimaryKeyConstraint('resource_leases_pkey', ['kind', 'id'])
      .execute()
    // Renewal finds a node's leases by holder in one statement.
    await createIndex(db, 'resource_leases_holder_idx', 'resource_leases', ['holder_node_id'])
    await db.schema.alterTable('agents').addColumn('node_affinity', 'text').execute()
    await db.schema.alterTable('agents').addColumn('process_node', 'text').execute()
  },
  async down(db: MigrationDb) {
    await db.schema.alterTable('agents').dropColumn('process_node').execute()
    await db.schema.alterTable('agents').dropColumn('node_affinity').execute()
    await db.schema.dropTable('resource_leases').ifExists().execute()
    await db.schema.alterTable('nodes').dropColumn('expires_at').execute()
    await db.schema.alterTable('nodes').dropColumn('name').execute()
  },
})
