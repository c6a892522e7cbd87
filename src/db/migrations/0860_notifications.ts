// Notifications (issue 19): rules that send chosen events to a webhook or an
// MQTT broker, and a durable outbox. A notification is written to
// notification_deliveries before anything is sent, so one not yet delivered
// when the server stops is sent after it starts again; every attempt is kept in
// notification_attempts. notification_cooldowns holds, per rule and resource,
// when the last notification went out and how many events it held back since.
// A user's rules go with the user (cascade): unlike agents or devices, nothing
// else refers to them.

import {
  createIndex,
  dropTables,
  keyedTable,
  optional,
  ownedRuleColumns,
  required,
  timestamps,
} from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const notifications: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema
      .createTable('notification_rules')
      .$call(ownedRuleColumns(t))
      .addColumn('filter', t.json, (c) => c.notNull())
      .addColumn('cooldown_seconds', 'integer', (c) => c.notNull())
      .addColumn('sink_type', 'text', (c) => c.notNull())
      // The sink's settings that may be shown (URL, topic, user name).
      .addColumn('sink', t.json, (c) => c.notNull())
      // The webhook's signing secret or the broker password: used to send, never returned.
      .addColumn('sink_secret', 'text')
      .$call(timestamps(t))
      .execute()
    await createIndex(db, 'notification_rules_owner_id_idx', 'notification_rules', ['owner_id'])

    await keyedTable(db, 'notification_deliveries')
      .addColumn('rule_id', 'text', (c) =>
        c.notNull().references('notification_rules.id').onDelete('cascade'),
      )
      .$call(required('text', 'event_id', 'event_kind'))
      .$call(optional('text', 'resource_type', 'resource_id'))
      // body: the exact JSON sent (and signed) at every attempt.
      .$call(required('text', 'body', 'status'))
      .$call(required('integer', 'attempts', 'max_attempts'))
      .addColumn('next_attempt_at', t.time)
      .addColumn('claimed_by', 'text')
      .addColumn('claimed_until', t.time)
      .addColumn('last_status_code', 'integer')
      .addColumn('last_error', 'text')
      .$call(timestamps(t))
      .addColumn('delivered_at', t.time)
      .execute()
    await createIndex(db, 'notification_deliveries_due_idx', 'notification_deliveries', [
      'status',
      'next_attempt_at',
    ])
    await createIndex(db, 'notification_deliveries_rule_idx', 'notification_deliveries', [
      'rule_id',
      'created_at',
    ])

    await keyedTable(db, 'notification_attempts')
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
    await createIndex(db, 'notification_attempts_delivery_idx', 'notification_attempts', [
      'delivery_id',
      'attempt',
    ])

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
    await dropTables(db, [
      'notification_cooldowns',
      'notification_attempts',
      'notification_deliveries',
      'notification_rules',
    ])
  },
})
