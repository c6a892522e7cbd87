// Queues per device and per device group (issue 20). An item is one copy of
// one file waiting for a device; its progress and outcome are its job's (a
// `pending` job in the ledger until it is dispatched), so the jobs API lists
// and cancels queue items too. A device's head row is the claim a dispatcher
// takes with a conditional update before it starts a transfer, and the hold
// (a confirmation asked for, an interrupted job) that stops the queue.
// `jobs.queued_by` names who keeps a pending job that no process runs yet: the
// reaper of a dead process's jobs leaves it alone. A deleted user's groups and
// items go with the user (a user who owns devices cannot be deleted at all).

import type { MigrationDb, MyntrixMigration } from './types.js'

export const deviceQueues: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('jobs').addColumn('queued_by', 'text').execute()
    await db.schema
      .createTable('device_groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema.createIndex('device_groups_owner_idx').on('device_groups').column('owner_id').execute()
    await db.schema
      .createTable('device_group_members')
      .addColumn('group_id', 'text', (c) => c.notNull().references('device_groups.id').onDelete('cascade'))
      .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
      .addColumn('position', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('device_group_members_pk', ['group_id', 'device_id'])
      .execute()
    await db.schema
      .createIndex('device_group_members_device_idx')
      .on('device_group_members')
      .column('device_id')
      .execute()
    // No foreign keys to devices or groups: deleting one cancels its items' jobs first (service).
    await db.schema
      .createTable('device_queue_items')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('device_id', 'text')
      .addColumn('group_id', 'text')
      .addColumn('file_device_id', 'text', (c) => c.notNull())
      .addColumn('file_id', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text', (c) => c.notNull().unique())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('priority', 'integer', (c) => c.notNull())
      .addColumn('require_confirm', 'integer', (c) => c.notNull())
      .addColumn('assigned_device_id', 'text')
      .addColumn('created_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('device_queue_items_device_idx')
      .on('device_queue_items')
      .columns(['device_id', 'position'])
      .execute()
    await db.schema
      .createIndex('device_queue_items_group_idx')
      .on('device_queue_items')
      .columns(['group_id', 'position'])
      .execute()
    await db.schema
      .createTable('device_queue_heads')
      .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id').onDelete('cascade'))
      .addColumn('item_id', 'text')
      .addColumn('job_id', 'text')
      .addColumn('hold', 'text')
      .addColumn('hold_job_id', 'text')
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('device_queue_heads').ifExists().execute()
    await db.schema.dropTable('device_queue_items').ifExists().execute()
    await db.schema.dropTable('device_group_members').ifExists().execute()
    await db.schema.dropTable('device_groups').ifExists().execute()
    await db.schema.alterTable('jobs').dropColumn('queued_by').execute()
  },
})
