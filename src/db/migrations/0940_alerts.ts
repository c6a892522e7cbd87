// Alerts (issue 19): rules over a host metric or a device's telemetry reading
// (threshold, forSeconds, clear threshold, cooldown), and the alerts they
// raise. An alert is one excursion of one rule on one resource: pending when
// the condition starts to hold, firing once it held forSeconds, then resolved
// (below the clear threshold) or ok (it stopped before firing). Its row is
// written at each change of state only, with every change (state, value,
// time) in `transitions`; readings in between are never written. A device's
// rules go with the device, a user's rules and alerts with the user. Relative
// rules compare a reading with a target reading of the same device (a hotend
// with its set temperature) instead of a fixed threshold.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const alerts: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema
      .createTable('alert_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('enabled', t.bool, (c) => c.notNull())
      // host | device
      .addColumn('source', 'text', (c) => c.notNull())
      // A host metric (cpu.percent) or a device's reading name (temperature).
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('device_id', 'text', (c) => c.references('devices.id').onDelete('cascade'))
      // threshold | below-target | above-target | no-rise
      .addColumn('kind', 'text', (c) => c.notNull())
      // A threshold rule's comparison; null for the relative kinds.
      .addColumn('operator', 'text')
      .addColumn('threshold', t.double)
      .addColumn('clear_threshold', t.double)
      // The relative kinds: the reading holding the target (targetTemperature) and the margin.
      .addColumn('target_metric', 'text')
      .addColumn('delta', t.double)
      .addColumn('warm_up_exempt', t.bool, (c) => c.notNull())
      // Device rules: what to do on the machine when an alert fires ([{type, command?}]).
      .addColumn('actions', t.json, (c) => c.notNull())
      .addColumn('for_seconds', 'integer', (c) => c.notNull())
      .addColumn('cooldown_seconds', 'integer', (c) => c.notNull())
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema.createIndex('alert_rules_owner_id_idx').on('alert_rules').column('owner_id').execute()
    await db.schema.createIndex('alert_rules_device_id_idx').on('alert_rules').column('device_id').execute()

    await db.schema
      .createTable('alerts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('rule_id', 'text', (c) => c.notNull().references('alert_rules.id').onDelete('cascade'))
      // The rule's owner, so listing a user's alerts needs no join.
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('resource_type', 'text', (c) => c.notNull())
      .addColumn('resource_id', 'text', (c) => c.notNull())
      // pending | firing | resolved | ok
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('value', t.double)
      .addColumn('started_at', t.time, (c) => c.notNull())
      .addColumn('fired_at', t.time)
      .addColumn('ended_at', t.time)
      // Whether alert.firing was sent (false when the rule's cooldown held it back): alert.resolved follows it.
      .addColumn('notified', t.bool, (c) => c.notNull())
      .addColumn('acknowledged_at', t.time)
      .addColumn('acknowledged_by', 'text')
      .addColumn('transitions', t.json, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema.createIndex('alerts_rule_id_idx').on('alerts').columns(['rule_id', 'state']).execute()
    await db.schema.createIndex('alerts_owner_id_idx').on('alerts').columns(['owner_id', 'id']).execute()
    await db.schema.createIndex('alerts_state_idx').on('alerts').column('state').execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('alerts').execute()
    await db.schema.dropTable('alert_rules').execute()
  },
})
