// Every table the seed names, with its columns plus owner_id and the columns
// the areas are known to need. Areas add columns with later migrations in
// their own number range (01xx agents, 02xx devices, 03xx jobs/monitoring,
// 04xx scheduler, 05xx device files, 06xx visualization).

import { sql } from 'kysely'
import {
  createIndex,
  dropTables,
  keyedTable,
  optional,
  ownerColumn,
  required,
  timestamps,
} from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const foundation: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    const falseValue = t.engine === 'postgres' ? sql`false` : sql`0`

    await keyedTable(db, 'users')
      .addColumn('username', 'text', (c) => c.notNull().unique())
      .$call(required('text', 'password_hash', 'role'))
      .addColumn('disabled', t.bool, (c) => c.notNull().defaultTo(falseValue))
      .$call(timestamps(t))
      .execute()

    await keyedTable(db, 'api_keys')
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('prefix', 'text', (c) => c.notNull().unique())
      .addColumn('key_hash', 'text', (c) => c.notNull())
      .$call(required(t.time, 'created_at'))
      .$call(optional(t.time, 'last_used_at', 'expires_at', 'revoked_at'))
      .execute()
    await createIndex(db, 'api_keys_user_id_idx', 'api_keys', ['user_id'])

    await keyedTable(db, 'audit_log')
      .addColumn('at', t.time, (c) => c.notNull())
      .$call(optional('text', 'user_id', 'username'))
      .addColumn('action', 'text', (c) => c.notNull())
      .$call(optional('text', 'target', 'method', 'path'))
      .addColumn('status_code', 'integer')
      .addColumn('ip', 'text')
      .addColumn('details', t.json)
      .execute()
    await createIndex(db, 'audit_log_at_idx', 'audit_log', ['at'])

    await keyedTable(db, 'agents')
      .$call(required('text', 'name', 'type', 'status'))
      .addColumn('desired_state', 'text', (c) => c.notNull().defaultTo('stopped'))
      .addColumn('health', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('health_details', t.json)
      .addColumn('last_run', t.time)
      .addColumn('configuration', t.json)
      .$call(ownerColumn())
      .addColumn('pid', 'integer')
      .addColumn('pid_start_time', 'text')
      .addColumn('started_at', t.time)
      .addColumn('restarts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_exit', t.json)
      .addColumn('status_reason', 'text')
      .$call(timestamps(t))
      .execute()
    await createIndex(db, 'agents_owner_id_idx', 'agents', ['owner_id'])

    await keyedTable(db, 'devices')
      .$call(required('text', 'name', 'type', 'connection_string', 'status'))
      .addColumn('last_seen', t.time)
      .addColumn('firmware_version', 'text')
      .addColumn('configuration', t.json)
      .$call(ownerColumn())
      .addColumn('last_error', 'text')
      .addColumn('desired_connected', t.bool, (c) => c.notNull().defaultTo(falseValue))
      .$call(timestamps(t))
      .execute()
    await createIndex(db, 'devices_owner_id_idx', 'devices', ['owner_id'])

    await keyedTable(db, 'jobs')
      .$call(required('text', 'name', 'type', 'status'))
      .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
      .$call(timestamps(t))
      .addColumn('logs', 'text')
      .addColumn('details', t.json)
      .addColumn('owner_id', 'text', (c) => c.references('users.id').onDelete('set null'))
      .$call(optional(t.time, 'started_at', 'finished_at'))
      .addColumn('error', 'text')
      .execute()
    await createIndex(db, 'jobs_status_idx', 'jobs', ['status', 'updated_at'])

    await keyedTable(db, 'scheduled_tasks')
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .$call(required('text', 'schedule', 'action'))
      .addColumn('payload', t.json)
      .addColumn('enabled', t.bool, (c) => c.notNull())
      .addColumn('timezone', 'text', (c) => c.notNull().defaultTo('UTC'))
      .addColumn('overlap_policy', 'text', (c) => c.notNull().defaultTo('skip'))
      .addColumn('timeout_ms', 'integer')
      .addColumn('max_retries', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('retry_delay_ms', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('misfire_grace_ms', 'integer', (c) => c.notNull().defaultTo(60000))
      .addColumn('next_run_at', t.time)
      .$call(ownerColumn())
      .$call(timestamps(t))
      .execute()
    await createIndex(db, 'scheduled_tasks_next_run_idx', 'scheduled_tasks', ['enabled', 'next_run_at'])

    await keyedTable(db, 'task_runs')
      .addColumn('task_id', 'text', (c) => c.notNull().references('scheduled_tasks.id').onDelete('cascade'))
      .$call(optional(t.time, 'scheduled_for', 'start_time', 'end_time'))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('logs', 'text')
      .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('trigger', 'text', (c) => c.notNull().defaultTo('schedule'))
      .addColumn('job_id', 'text', (c) => c.references('jobs.id').onDelete('set null'))
      .addColumn('error', 'text')
      .$call(required(t.time, 'created_at'))
      // Second guard behind the compare-and-set claim: one run per occurrence and attempt.
      .addUniqueConstraint('task_runs_occurrence_uq', ['task_id', 'scheduled_for', 'attempt'])
      .execute()
    await createIndex(db, 'task_runs_task_idx', 'task_runs', ['task_id', 'created_at'])
    await createIndex(db, 'task_runs_status_idx', 'task_runs', ['status'])

    await db.schema
      .createTable('system_metrics_history')
      .addColumn('bucket_start', t.time, (c) => c.primaryKey())
      .addColumn('samples', 'integer', (c) => c.notNull())
      .$call(required(t.double, 'cpu_avg', 'cpu_max', 'memory_avg', 'memory_max'))
      .addColumn('memory_used_bytes', t.bigint)
      .$call(optional(t.double, 'load1', 'disk_percent', 'net_rx_bytes_per_sec', 'net_tx_bytes_per_sec'))
      .execute()
  },

  async down(db: MigrationDb) {
    await dropTables(db, [
      'system_metrics_history',
      'task_runs',
      'scheduled_tasks',
      'jobs',
      'devices',
      'agents',
      'audit_log',
      'api_keys',
      'users',
    ])
  },
})
