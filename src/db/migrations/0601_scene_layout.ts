// The 3D scene's stable layout: each entity keeps the ring and slot it was
// given when first drawn, so adding or removing others never moves it.

import { dropTables, required } from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const sceneLayout: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema
      .createTable('scene_groups')
      .$call(required('text', 'kind', 'group_key'))
      .addColumn('group_index', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('scene_groups_pk', ['kind', 'group_key'])
      .addUniqueConstraint('scene_groups_index_uq', ['kind', 'group_index'])
      .execute()
    await db.schema
      .createTable('scene_slots')
      .addColumn('entity_id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .$call(required('integer', 'ring', 'slot'))
      .addUniqueConstraint('scene_slots_uq', ['kind', 'ring', 'slot'])
      .execute()
  },
  async down(db: MigrationDb) {
    await dropTables(db, ['scene_slots', 'scene_groups'])
  },
})
