// Devices in a cluster (docs/SCALE-OUT.md): where a device may be held. A
// serial port is on one host, so a serial device is pinned to the node that has
// it; network and simulated devices (null) may be held by any node. Rows from
// before this migration get null: the migration cannot know which host's port
// a serial path names, and guessing the migrating node would pin a printer to
// the wrong machine. docs/DEVICES.md tells operators of a cluster to set it.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const deviceAffinity: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('devices').addColumn('node_affinity', 'text').execute()
  },
  async down(db: MigrationDb) {
    await db.schema.alterTable('devices').dropColumn('node_affinity').execute()
  },
})
