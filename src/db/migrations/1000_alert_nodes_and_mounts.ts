// Alerts per node and per mount (issue 19, last slice). In a cluster each node
// evaluates host rules against its own host, so an alert row records the node
// that raised it (`node`, MYNTRIX_NODE_NAME): two nodes over a threshold are
// two alerts, and one resolving leaves the other's open. A host rule on
// disk.percent may name a mount point (`mount`); null keeps the filesystem of
// the data directory, as before.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const alertNodesAndMounts: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('alert_rules').addColumn('mount', 'text').execute()
    await db.schema.alterTable('alerts').addColumn('node', 'text').execute()
  },
  async down(db: MigrationDb) {
    await db.schema.alterTable('alerts').dropColumn('node').execute()
    await db.schema.alterTable('alert_rules').dropColumn('mount').execute()
  },
})
