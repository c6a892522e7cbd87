// The 3D scene's stable layout: each entity keeps the ring and slot it was
// given when first drawn, so adding or removing others never moves it.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const sceneLayout: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema
      .createTable('scene_groups')
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('group_key', 'text', (c) => c.notNull())
      .addColumn('group_index', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('scene_groups_pk', ['kind', 'group_key'])
      .addUniqueConstraint('scene_groups_index_uq', ['kind', 'group_index'])
      .execute()
    await db.schema
      .createTable('scene_slots')
      .addColumn('entity_id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('ring', 'integer', (c) => c.notNull())
      .addColumn('slot', 'integer', (c) => c.notNull())
      .addUniqueConstraint('scene_slots_uq', ['kind', 'ring', 'slot'])
      .execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('scene_slots').ifExists().execute()
    await db.schema.dropTable('scene_groups').ifExists().execute()
  },
})
