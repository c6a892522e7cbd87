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

import { createIndex, keyedTable, optional, ownedRuleColumns, required, timestamps } from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const alerts: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema
      .createTable('alert_rules')
      .$call(ownedRuleColumns(t))
      // host | device
      .addColumn('source', 'text', (c) => c.notNull())
      // A host metric (cpu.percent) or a device's reading name (temperature).
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('device_id', 'text', (c) => c.references('devices.id').onDelete('cascade'))
      // threshold | below-target | above-target | no-rise
      .addColumn('kind', 'text', (c) => c.notNull())
      // A threshold rule's comparison; null for the relative kinds.
      .addColumn('operator', 'text')
      .$call(optional(t.double, 'threshold', 'clear_threshold'))
      // The relative kinds: the reading holding the target (targetTemperature) and the margin.
      .addColumn('target_metric', 'text')
      .addColumn('delta', t.double)
      .addColumn('warm_up_exempt', t.bool, (c) => c.notNull())
      // Device rules: what to do on the machine when an alert fires ([{type, command?}]).
      .addColumn('actions', t.json, (c) => c.notNull())
      .$call(required('integer', 'for_seconds', 'cooldown_seconds'))
      .$call(timestamps(t))
      .execute()
    await createIndex(db, 'alert_rules_owner_id_idx', 'alert_rules', ['owner_id'])
    await createIndex(db, 'alert_rules_device_id_idx', 'alert_rules', ['device_id'])

    await keyedTable(db, 'alerts')
      .addColumn('rule_id', 'text', (c) => c.notNull().references('alert_rules.id').onDelete('cascade'))
      // The rule's owner, so listing a user's alerts needs no join.
      .$call(required('text', 'owner_id', 'resource_type', 'resource_id'))
      // pending | firing | resolved | ok
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('value', t.double)
      .addColumn('started_at', t.time, (c) => c.notNull())
      .$call(optional(t.time, 'fired_at', 'ended_at'))
      // Whether alert.firing was sent (false when the rule's cooldown held it back): alert.resolved follows it.
      .addColumn('notified', t.bool, (c) => c.notNull())
      .addColumn('acknowledged_at', t.time)
      .addColumn('acknowledged_by', 'text')
      .addColumn('transitions', t.json, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
    await createIndex(db, 'alerts_rule_id_idx', 'alerts', ['rule_id', 'state'])
    await createIndex(db, 'alerts_owner_id_idx', 'alerts', ['owner_id', 'id'])
    await createIndex(db, 'alerts_state_idx', 'alerts', ['state'])
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('alerts').execute()
    await db.schema.dropTable('alert_rules').execute()
  },
})
