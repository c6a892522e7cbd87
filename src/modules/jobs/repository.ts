// SQL for the jobs ledger; snake_case stays in here (CamelCasePlugin maps it).

import { sql } from 'kysely'
import type { Database } from '../../db/types.js'
import { fromDbInt, fromDbJson, fromDbTime, toDbJson, toDbTime } from '../../db/values.js'
import { ACTIVE_JOB_STATUSES, type Job, type JobStatus } from './types.js'

type JobRow = {
  id: string
  name: string
  type: string
  status: string
  progress: number | string
  ownerId: string | null
  logs: string | null
  details: unknown
  error: string | null
  createdAt: unknown
  updatedAt: unknown
  startedAt: unknown
  finishedAt: unknown
}

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    status: row.status as JobStatus,
    progress: fromDbInt(row.progress),
    ownerId: row.ownerId,
    logs: row.logs,
    details: fromDbJson(row.details),
    error: row.error,
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
    startedAt: fromDbTime(row.startedAt),
    finishedAt: fromDbTime(row.finishedAt),
  }
}

export interface JobListFilter {
  /** null: every job (admins); otherwise the caller's jobs plus ownerless system jobs. */
  ownerId: string | null
  statuses?: JobStatus[]
  type?: string
  /** Jobs updated at or after this time. */
  since?: Date
  /** Without statuses and since: active jobs plus those finished at or after this time. */
  recentSince?: Date
  limit: number
  offset: number
}

const ACTIVE = [...ACTIVE_JOB_STATUSES] as string[]

export class JobsRepository {
  constructor(private readonly db: Database) {}

  async insert(job: Job, instanceId: string | null = null): Promise<void> {
    await this.db
      .insertInto('jobs')
      .values({
        instanceId,
        id: job.id,
        name: job.name,
        type: job.type,
        status: job.status,
        progress: job.progress,
        ownerId: job.ownerId,
        logs: job.logs,
        details: toDbJson(job.details),
        error: job.error,
        createdAt: toDbTime(job.createdAt),
        updatedAt: toDbTime(job.updatedAt),
        startedAt: toDbTime(job.startedAt),
        finishedAt: toDbTime(job.finishedAt),
      })
      .execute()
  }

  async get(id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toJob(row) : undefined
  }

  /** pending -> running; false when the job was not pending. */
  async markRunning(id: string, at: Date): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({ status: 'running', startedAt: toDbTime(at), updatedAt: toDbTime(at) })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  async updateProgress(
    id: string,
    progress: number,
    details: Record<string, unknown> | undefined,
    at: Date,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({ progress, ...(details ? { details: toDbJson(details) } : {}), updatedAt: toDbTime(at) })
      .where('id', '=', id)
      .where('status', 'in', ACTIVE)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  /** Moves an active job to a final status; false when it had already finished. */
  async finish(
    id: string,
    change: {
      status: JobStatus
      error: string | null
      at: Date
      progress?: number
      details?: Record<string, unknown>
    },
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({
        status: change.status,
        error: change.error,
        finishedAt: toDbTime(change.at),
        updatedAt: toDbTime(change.at),
        ...(change.progress !== undefined ? { progress: change.progress } : {}),
        ...(change.details ? { details: toDbJson(change.details) } : {}),
      })
      .where('id', '=', id)
      .where('status', 'in', ACTIVE)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  async setLogs(id: string, logs: string, at: Date): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ logs, updatedAt: toDbTime(at) })
      .where('id', '=', id)
      .execute()
  }

  async list(filter: JobListFilter): Promise<{ items: Job[]; total: number }> {
    let query = this.db.selectFrom('jobs')
    if (filter.ownerId !== null) {
      const ownerId = filter.ownerId
      query = query.where((eb) => eb.or([eb('ownerId', '=', ownerId), eb('ownerId', 'is', null)]))
    }
    if (filter.statuses?.length) query = query.where('status', 'in', filter.statuses)
    if (filter.type !== undefined) query = query.where('type', '=', filter.type)
    if (filter.since) query = query.where('updatedAt', '>=', toDbTime(filter.since))
    if (!filter.statuses?.length && !filter.since && filter.recentSince) {
      const cutoff = toDbTime(filter.recentSince)
      query = query.where((eb) => eb.or([eb('status', 'in', ACTIVE), eb('updatedAt', '>=', cutoff)]))
    }
    const [rows, count] = await Promise.all([
      query
        .selectAll()
        // Active jobs first (the dashboard's "in flight" list), newest first within each group.
        .orderBy(sql`case when status in ('pending', 'running') then 0 else 1 end`)
        .orderBy('createdAt', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit)
        .offset(filter.offset)
        .execute(),
      query.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
    ])
    return { items: rows.map(toJob), total: fromDbInt(count.n) }
  }

  /**
   * Marks active jobs failed unless they belong to `self` or to a process in
   * `live`; returns how many. Jobs with no recorded process are failed too.
   */
  async failOrphaned(reason: string, at: Date, self: string, live: string[]): Promise<number> {
    const keep = [self, ...live]
    const r = await this.db
      .updateTable('jobs')
      .set({ status: 'failed', error: reason, finishedAt: toDbTime(at), updatedAt: toDbTime(at) })
      .where('status', 'in', ACTIVE)
      .where((eb) => eb.or([eb('instanceId', 'is', null), eb('instanceId', 'not in', keep)]))
      .executeTakeFirst()
    return Number(r.numUpdatedRows)
  }

  /**
   * The Myntrix processes alive now, from the scheduler's per-process heartbeat
   * table (every process runs the scheduler): a fresh heartbeat, and on this
   * host a pid that still exists.
   */
  async liveInstances(
    staleBefore: Date,
    hostname: string,
    pidAlive: (pid: number) => boolean,
  ): Promise<string[]> {
    // One-word aliases: the camelCase plugin would rename snake_case keys of a raw result.
    const rows = await sql<{ id: string; hostname: string | null; pid: number | null; beat: unknown }>`
      select id, hostname, pid, heartbeat_at as beat from scheduler_instances`.execute(this.db)
    return rows.rows
      .filter((r) => (fromDbTime(r.beat)?.getTime() ?? 0) >= staleBefore.getTime())
      .filter((r) => r.hostname !== hostname || r.pid === null || pidAlive(Number(r.pid)))
      .map((r) => r.id)
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['status', (eb) => eb.fn.countAll().as('n')])
      .groupBy('status')
      .execute()
    return Object.fromEntries(rows.map((r) => [r.status, fromDbInt(r.n)]))
  }
}
