// Notifications (issue 19): rules that send chosen events to a webhook or an
// MQTT broker, and a durable outbox. A notification is written to
// notification_deliveries before anything is sent, so one not yet delivered
// when the server stops is sent after it starts again; every attempt is kept in
// notification_attempts. notification_cooldowns holds, per rule and resource,
// when the last notification went out and how many events it held back since.
// A user's rules go with the user (cascade): unlike agents or devices, nothing
// else refers to them.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const notifications: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema
      .createTable('notification_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('enabled', t.bool, (c) => c.notNull())
      .addColumn('filter', t.json, (c) => c.notNull())
      .addColumn('cooldown_seconds', 'integer', (c) => c.notNull())
      .addColumn('sink_type', 'text', (c) => c.notNull())
      // The sink's settings that may be shown (URL, topic, user name).
      .addColumn('sink', t.json, (c) => c.notNull())
      // The webhook's signing secret or the broker password: used to send, never returned.
      .addColumn('sink_secret', 'text')
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('notification_rules_owner_id_idx')
      .on('notification_rules')
      .column('owner_id')
      .execute()

    await db.schema
      .createTable('notification_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('rule_id', 'text', (c) =>
        c.notNull().references('notification_rules.id').onDelete('cascade'),
      )
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('event_kind', 'text', (c) => c.notNull())
      .addColumn('resource_type', 'text')
      .addColumn('resource_id', 'text')
      // The exact JSON sent (and signed) at every attempt.
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('max_attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', t.time)
      .addColumn('claimed_by', 'text')
      .addColumn('claimed_until', t.time)
      .addColumn('last_status_code', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .addColumn('delivered_at', t.time)
      .execute()
    await db.schema
      .createIndex('notification_deliveries_due_idx')
      .on('notification_deliveries')
      .columns(['status', 'next_attempt_at'])
      .execute()
    await db.schema
      .createIndex('notification_deliveries_rule_idx')
      .on('notification_deliveries')
      .columns(['rule_id', 'created_at'])
      .execute()

    await db.schema
      .createTable('notification_attempts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('delivery_id', 'text', (c) =>
        c.notNull().references('notification_deliveries.id').onDelete('cascade'),
      )
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('started_at', t.time, (c) => c.notNull())
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .addColumn('status_code', 'integer')
      .addColumn('error', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('next_attempt_at', t.time)
      .execute()
    await db.schema
      .createIndex('notification_attempts_delivery_idx')
      .on('notification_attempts')
      .columns(['delivery_id', 'attempt'])
      .execute()

    await db.schema
      .createTable('notification_cooldowns')
      .addColumn('rule_id', 'text', (c) =>
        c.notNull().references('notification_rules.id').onDelete('cascade'),
      )
      .addColumn('resource_key', 'text', (c) => c.notNull())
      .addColumn('last_sent_at', t.time, (c) => c.notNull())
      .addColumn('suppressed', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('notification_cooldowns_pk', ['rule_id', 'resource_key'])
      .execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('notification_cooldowns').ifExists().execute()
    await db.schema.dropTable('notification_attempts').ifExists().execute()
    await db.schema.dropTable('notification_deliveries').ifExists().execute()
    await db.schema.dropTable('notification_rules').ifExists().execute()
  },
})
