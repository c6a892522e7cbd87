// Every table the seed names, with its columns plus owner_id and the columns
// the areas are known to need. Areas add columns with later migrations in
// their own number range (01xx agents, 02xx devices, 03xx jobs/monitoring,
// 04xx scheduler, 05xx device files, 06xx visualization).

import { sql } from 'kysely'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const foundation: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    const falseValue = t.engine === 'postgres' ? sql`false` : sql`0`

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('disabled', t.bool, (c) => c.notNull().defaultTo(falseValue))
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('prefix', 'text', (c) => c.notNull().unique())
      .addColumn('key_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('last_used_at', t.time)
      .addColumn('expires_at', t.time)
      .addColumn('revoked_at', t.time)
      .execute()
    await db.schema.createIndex('api_keys_user_id_idx').on('api_keys').column('user_id').execute()

    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('at', t.time, (c) => c.notNull())
      .addColumn('user_id', 'text')
      .addColumn('username', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target', 'text')
      .addColumn('method', 'text')
      .addColumn('path', 'text')
      .addColumn('status_code', 'integer')
      .addColumn('ip', 'text')
      .addColumn('details', t.json)
      .execute()
    await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at').execute()

    await db.schema
      .createTable('agents')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('desired_state', 'text', (c) => c.notNull().defaultTo('stopped'))
      .addColumn('health', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('health_details', t.json)
      .addColumn('last_run', t.time)
      .addColumn('configuration', t.json)
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('pid', 'integer')
      .addColumn('pid_start_time', 'text')
      .addColumn('started_at', t.time)
      .addColumn('restarts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_exit', t.json)
      .addColumn('status_reason', 'text')
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema.createIndex('agents_owner_id_idx').on('agents').column('owner_id').execute()

    await db.schema
      .createTable('devices')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('connection_string', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('last_seen', t.time)
      .addColumn('firmware_version', 'text')
      .addColumn('configuration', t.json)
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('last_error', 'text')
      .addColumn('desired_connected', t.bool, (c) => c.notNull().defaultTo(falseValue))
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema.createIndex('devices_owner_id_idx').on('devices').column('owner_id').execute()

    await db.schema
      .createTable('jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .addColumn('logs', 'text')
      .addColumn('details', t.json)
      .addColumn('owner_id', 'text', (c) => c.references('users.id').onDelete('set null'))
      .addColumn('started_at', t.time)
      .addColumn('finished_at', t.time)
      .addColumn('error', 'text')
      .execute()
    await db.schema.createIndex('jobs_status_idx').on('jobs').columns(['status', 'updated_at']).execute()

    await db.schema
      .createTable('scheduled_tasks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('schedule', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('payload', t.json)
      .addColumn('enabled', t.bool, (c) => c.notNull())
      .addColumn('timezone', 'text', (c) => c.notNull().defaultTo('UTC'))
      .addColumn('overlap_policy', 'text', (c) => c.notNull().defaultTo('skip'))
      .addColumn('timeout_ms', 'integer')
      .addColumn('max_retries', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('retry_delay_ms', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('misfire_grace_ms', 'integer', (c) => c.notNull().defaultTo(60000))
      .addColumn('next_run_at', t.time)
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('scheduled_tasks_next_run_idx')
      .on('scheduled_tasks')
      .columns(['enabled', 'next_run_at'])
      .execute()

    await db.schema
      .createTable('task_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('task_id', 'text', (c) => c.notNull().references('scheduled_tasks.id').onDelete('cascade'))
      .addColumn('scheduled_for', t.time)
      .addColumn('start_time', t.time)
      .addColumn('end_time', t.time)
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('logs', 'text')
      .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('trigger', 'text', (c) => c.notNull().defaultTo('schedule'))
      .addColumn('job_id', 'text', (c) => c.references('jobs.id').onDelete('set null'))
      .addColumn('error', 'text')
      .addColumn('created_at', t.time, (c) => c.notNull())
      // Second guard behind the compare-and-set claim: one run per occurrence and attempt.
      .addUniqueConstraint('task_runs_occurrence_uq', ['task_id', 'scheduled_for', 'attempt'])
      .execute()
    await db.schema
      .createIndex('task_runs_task_idx')
      .on('task_runs')
      .columns(['task_id', 'created_at'])
      .execute()
    await db.schema.createIndex('task_runs_status_idx').on('task_runs').column('status').execute()

    await db.schema
      .createTable('system_metrics_history')
      .addColumn('bucket_start', t.time, (c) => c.primaryKey())
      .addColumn('samples', 'integer', (c) => c.notNull())
      .addColumn('cpu_avg', t.double, (c) => c.notNull())
      .addColumn('cpu_max', t.double, (c) => c.notNull())
      .addColumn('memory_avg', t.double, (c) => c.notNull())
      .addColumn('memory_max', t.double, (c) => c.notNull())
      .addColumn('memory_used_bytes', t.bigint)
      .addColumn('load1', t.double)
      .addColumn('disk_percent', t.double)
      .addColumn('net_rx_bytes_per_sec', t.double)
      .addColumn('net_tx_bytes_per_sec', t.double)
      .execute()
  },

  async down(db: MigrationDb) {
    for (const table of [
      'system_metrics_history',
      'task_runs',
      'scheduled_tasks',
      'jobs',
      'devices',
      'agents',
      'audit_log',
      'api_keys',
      'users',
    ]) {
      await db.schema.dropTable(table).ifExists().execute()
    }
  },
})
