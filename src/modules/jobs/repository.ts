// SQL for the jobs ledger; snake_case stays in here (CamelCasePlugin maps it).

import { sql } from 'kysely'
import { placeholders, rawQuery, rows, typed } from '../../db/raw.js'
import { TurnBatch } from '../../db/turn-batch.js'
import type { Database, DbEngine } from '../../db/types.js'
import { fromDbInt, fromDbJson, fromDbTime, toDbJson, toDbTime } from '../../db/values.js'
import { ACTIVE_JOB_STATUSES, FINISHED_JOB_STATUSES, type Job, type JobStatus } from './types.js'

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
  checkpoint: unknown
  restartOf: string | null
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
    checkpoint: fromDbJson(row.checkpoint),
    restartOf: row.restartOf,
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

/** A job's final write (see JobsRepository.finish). */
export interface JobFinish {
  status: JobStatus
  error: string | null
  at: Date
  progress?: number
  details?: Record<string, unknown>
  /** Replaces the job's log text. */
  logs?: string
  checkpoint?: Record<string, unknown>
}

export class JobsRepository {
  // Jobs created or finished in one turn of the event loop are written in one
  // statement each (a busy scheduler second creates and ends a hundred).
  private readonly inserts = new TurnBatch<
    { job: Job; instanceId: string | null; queuedBy: string | null },
    undefined
  >((items) => this.insertMany(items))
  private readonly finishes = new TurnBatch<{ id: string; change: JobFinish }, Job | undefined>((items) =>
    this.finishMany(items),
  )

  constructor(
    private readonly db: Database,
    private readonly engine: DbEngine,
  ) {}

  /** `queuedBy`: who keeps the pending job until it is dispatched (no process runs it yet). */
  insert(job: Job, instanceId: string | null = null, queuedBy: string | null = null): Promise<void> {
    return this.inserts.add({ job, instanceId, queuedBy })
  }

  private async insertMany(
    items: Array<{ job: Job; instanceId: string | null; queuedBy: string | null }>,
  ): Promise<undefined[]> {
    const time = typed(this.engine, 'timestamptz')
    const json = typed(this.engine, 'jsonb')
    const row = `(?, ?, ?, ?, ?, ?, ?, ?, ${json}, ?, ${time}, ${time}, ${time}, ${time}, ${json}, ?, ?)`
    const params: unknown[] = []
    for (const { job, instanceId, queuedBy } of items) {
      params.push(
        instanceId,
        job.id,
        job.name,
        job.type,
        job.status,
        job.progress,
        job.ownerId,
        job.logs,
        toDbJson(job.details),
        job.error,
        toDbTime(job.createdAt),
        toDbTime(job.updatedAt),
        toDbTime(job.startedAt),
        toDbTime(job.finishedAt),
        toDbJson(job.checkpoint),
        job.restartOf,
        queuedBy,
      )
    }
    await rawQuery(
      this.db,
      this.engine,
      'insert into jobs (instance_id, id, name, type, status, progress, owner_id, logs, details, error,' +
        ` created_at, updated_at, started_at, finished_at, checkpoint, restart_of, queued_by) values ${rows(items.length, row)}`,
      params,
    )
    return items.map(() => undefined)
  }

  async get(id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toJob(row) : undefined
  }

  /**
   * pending -> running, now run by `instanceId` (when given), with the details
   * and first checkpoint it starts with; false when the job was not pending.
   */
  async markRunning(
    id: string,
    at: Date,
    start: {
      instanceId?: string | null
      details?: Record<string, unknown>
      checkpoint?: Record<string, unknown>
    } = {},
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({
        status: 'running',
        startedAt: toDbTime(at),
        updatedAt: toDbTime(at),
        ...(start.instanceId ? { instanceId: start.instanceId } : {}),
        ...(start.details ? { details: toDbJson(start.details) } : {}),
        ...(start.checkpoint ? { checkpoint: toDbJson(start.checkpoint) } : {}),
      })
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

  /**
   * Ends an active job; returns it as it now stands, or undefined when it was
   * not active (already finished, or unknown). `progress`, `details` and
   * `logs` left out keep their values.
   */
  finish(id: string, change: JobFinish): Promise<Job | undefined> {
    return this.finishes.add({ id, change })
  }

  private async finishMany(items: Array<{ id: string; change: JobFinish }>): Promise<Array<Job | undefined>> {
    // A job ended twice in one turn: the first call wins, as it would one after another.
    const first = new Map<string, number>()
    items.forEach((item, i) => {
      if (!first.has(item.id)) first.set(item.id, i)
    })
    const json = typed(this.engine, 'jsonb')
    const row = `(?, ?, ?, ${typed(this.engine, 'timestamptz')}, ${typed(this.engine, 'integer')}, ${json}, ?, ${json})`
    const params: unknown[] = []
    for (const [i, { id, change: c }] of items.entries()) {
      if (first.get(id) !== i) continue
      const details = c.details ? toDbJson(c.details) : null
      const checkpoint = c.checkpoint ? toDbJson(c.checkpoint) : null
      params.push(
        id,
        c.status,
        c.error,
        toDbTime(c.at),
        c.progress ?? null,
        details,
        c.logs ?? null,
        checkpoint,
      )
    }
    params.push(...ACTIVE)
    const result = await rawQuery<JobRow>(
      this.db,
      this.engine,
      'with v(job_id, new_status, new_error, new_at, new_progress, new_details, new_logs, new_checkpoint)' +
        ` as (values ${rows(first.size, row)})` +
        ' update jobs set status = v.new_status, error = v.new_error, finished_at = v.new_at,' +
        ' updated_at = v.new_at, progress = coalesce(v.new_progress, jobs.progress),' +
        ' details = coalesce(v.new_details, jobs.details), logs = coalesce(v.new_logs, jobs.logs),' +
        ' checkpoint = coalesce(v.new_checkpoint, jobs.checkpoint)' +
        ` from v where jobs.id = v.job_id and jobs.status in (${placeholders(ACTIVE.length)})` +
        ' returning *',
      params,
    )
    const ended = new Map(result.map((r) => [r.id, toJob(r)]))
    return items.map((item, i) => (first.get(item.id) === i ? ended.get(item.id) : undefined))
  }

  /** Writes an active job's checkpoint; false when the job is no longer active. */
  async saveCheckpoint(id: string, checkpoint: Record<string, unknown>, at: Date): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({ checkpoint: toDbJson(checkpoint), updatedAt: toDbTime(at) })
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
   * Ends active jobs unless they belong to `self` or to a live
   * process: one whose heartbeat in nodes is at or after
   * `staleBefore`, and which is not in `dead` (same-host processes whose pid
   * is gone). One statement, so a process that renews its heartbeat and
   * records a job meanwhile is seen alive. Jobs with no recorded process are
   * ended too. A job with a checkpoint ends `interrupted` (it can be restarted
   * from it), any other `failed`. Returns how many.
   */
  async failOrphaned(
    reason: string,
    at: Date,
    self: string,
    staleBefore: Date,
    dead: string[],
  ): Promise<number> {
    const r = await this.db
      .updateTable('jobs')
      .set({
        status: sql<string>`case when checkpoint is not null then 'interrupted' else 'failed' end`,
        error: reason,
        finishedAt: toDbTime(at),
        updatedAt: toDbTime(at),
      })
      .where('status', 'in', ACTIVE)
      // A queue's pending job waits for a device, not for a process: it outlives them.
      .where((eb) => eb.or([eb('status', '!=', 'pending'), eb('queuedBy', 'is', null)]))
      .where((eb) =>
        eb.or([
          eb('instanceId', 'is', null),
          eb.and([
            eb('instanceId', '!=', self),
            eb.or([
              eb(
                'instanceId',
                'not in',
                sql<string>`(select id from nodes where heartbeat_at >= ${toDbTime(staleBefore)})`,
              ),
              ...(dead.length > 0 ? [eb('instanceId', 'in', dead)] : []),
            ]),
          ]),
        ]),
      )
      .executeTakeFirst()
    return Number(r.numUpdatedRows)
  }

  /**
   * Deletes up to `limit` finished jobs of `type` last updated before `before`
   * (per status, through the (status, updated_at) index; other types past the
   * cutoff are read past, not deleted); returns how many. A bounded batch keeps
   * each delete's lock short.
   */
  async pruneFinished(type: string, before: Date, limit: number): Promise<number> {
    let deleted = 0
    for (const status of FINISHED_JOB_STATUSES) {
      if (deleted >= limit) break
      const res = await this.db
        .deleteFrom('jobs')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('jobs')
            .select('id')
            .where('status', '=', status)
            .where('updatedAt', '<', toDbTime(before))
            .where('type', '=', type)
            .limit(limit - deleted),
        )
        .executeTakeFirst()
      deleted += Number(res.numDeletedRows)
    }
    return deleted
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
