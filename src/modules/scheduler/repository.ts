// SQL for tasks and runs (snake_case stays in here, via CamelCasePlugin). The
// claim is the heart of exactly-once: in one transaction, move a task's
// next_run_at from the due time to the next one only if it still holds the
// due time (compare-and-set), and insert the run; UNIQUE (task_id,
// scheduled_for, attempt) is the second guard. PostgreSQL lets processes
// share the due set with FOR UPDATE SKIP LOCKED; SQLite serialises them with
// BEGIN IMMEDIATE.

import { type Kysely, sql, type Transaction } from 'kysely'
import type { DB, DbEngine, TaskRunsTable } from '../../db/types.js'
import {
  fromDbBool,
  fromDbInt,
  fromDbJson,
  fromDbTime,
  toDbBool,
  toDbJson,
  toDbTime,
} from '../../db/values.js'
import type { ActionType } from './actions/types.js'
import type { OverlapPolicy, RunStatus, RunTrigger, Task, TaskRun, TaskRunWithName } from './types.js'

interface SchedulerInstancesTable {
  id: string
  hostname: string | null
  pid: number | null
  startedAt: string | Date
  heartbeatAt: string | Date
}

/** The foundation's tables plus what migration 0401 adds. */
export type SchedulerDB = Omit<DB, 'taskRuns'> & {
  taskRuns: TaskRunsTable & { claimedBy: string | null }
  schedulerInstances: SchedulerInstancesTable
}
type Db = Kysely<SchedulerDB>

// biome-ignore lint/suspicious/noExplicitAny: rows come back in engine-specific shapes; mapped below
type Row = Record<string, any>

function toTask(r: Row): Task {
  return {
    id: r.id,
    name: r.name,
    description: r.description ?? null,
    schedule: r.schedule,
    timezone: r.timezone,
    action: r.action as ActionType,
    payload: fromDbJson(r.payload) ?? {},
    enabled: fromDbBool(r.enabled),
    overlapPolicy: r.overlapPolicy as OverlapPolicy,
    timeoutMs: r.timeoutMs === null || r.timeoutMs === undefined ? null : fromDbInt(r.timeoutMs),
    maxRetries: fromDbInt(r.maxRetries),
    retryDelayMs: fromDbInt(r.retryDelayMs),
    misfireGraceMs: fromDbInt(r.misfireGraceMs),
    nextRunAt: fromDbTime(r.nextRunAt),
    ownerId: r.ownerId,
    createdAt: fromDbTime(r.createdAt) as Date,
    updatedAt: fromDbTime(r.updatedAt) as Date,
  }
}

function toRun(r: Row): TaskRun {
  return {
    id: r.id,
    taskId: r.taskId,
    scheduledFor: fromDbTime(r.scheduledFor),
    startTime: fromDbTime(r.startTime),
    endTime: fromDbTime(r.endTime),
    status: r.status as RunStatus,
    logs: r.logs ?? null,
    attempt: fromDbInt(r.attempt),
    trigger: r.trigger as RunTrigger,
    jobId: r.jobId ?? null,
    error: r.error ?? null,
    claimedBy: r.claimedBy ?? null,
    createdAt: fromDbTime(r.createdAt) as Date,
  }
}

function taskRow(t: Task) {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    schedule: t.schedule,
    timezone: t.timezone,
    action: t.action,
    payload: toDbJson(t.payload),
    enabled: toDbBool(t.enabled),
    overlapPolicy: t.overlapPolicy,
    timeoutMs: t.timeoutMs,
    maxRetries: t.maxRetries,
    retryDelayMs: t.retryDelayMs,
    misfireGraceMs: t.misfireGraceMs,
    nextRunAt: toDbTime(t.nextRunAt),
    ownerId: t.ownerId,
    createdAt: toDbTime(t.createdAt),
    updatedAt: toDbTime(t.updatedAt),
  }
}

function runRow(r: TaskRun) {
  return {
    id: r.id,
    taskId: r.taskId,
    scheduledFor: toDbTime(r.scheduledFor),
    startTime: toDbTime(r.startTime),
    endTime: toDbTime(r.endTime),
    status: r.status,
    logs: r.logs,
    attempt: r.attempt,
    trigger: r.trigger,
    jobId: r.jobId,
    error: r.error,
    claimedBy: r.claimedBy,
    createdAt: toDbTime(r.createdAt),
  }
}

interface PendingFinish {
  id: string
  status: RunStatus
  fields: { endTime: Date; logs?: string | null; error?: string | null }
  from: readonly RunStatus[]
}

/** What the engine decided for one due task inside the claim transaction. */
export interface ClaimPlan {
  /** The stored due time the compare-and-set expects. */
  expectedDue: Date
  nextRunAt: Date | null
  /** Runs to insert (the firing, and a `skipped` record of missed occurrences). */
  runs: TaskRun[]
}

export class SchedulerRepository {
  readonly db: Db

  constructor(
    db: Kysely<DB>,
    readonly engine: DbEngine,
  ) {
    this.db = db as unknown as Db
  }

  // ---- tasks ----

  async insertTask(task: Task): Promise<void> {
    await this.db.insertInto('scheduledTasks').values(taskRow(task)).execute()
  }

  async getTask(id: string): Promise<Task | undefined> {
    const row = await this.db.selectFrom('scheduledTasks').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toTask(row) : undefined
  }

  async listTasks(q: {
    ownerId: string | null
    limit: number
    offset: number
  }): Promise<{ items: Task[]; total: number }> {
    let base = this.db.selectFrom('scheduledTasks')
    if (q.ownerId !== null) base = base.where('ownerId', '=', q.ownerId)
    const [rows, count] = await Promise.all([
      base
        .selectAll()
        .orderBy('createdAt', 'asc')
        .orderBy('id', 'asc')
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ])
    return { items: rows.map(toTask), total: fromDbInt(count?.n ?? 0) }
  }

  /** Replaces a task's fields; returns false when it no longer exists. */
  async updateTask(task: Task): Promise<boolean> {
    const { id, createdAt: _c, ownerId: _o, ...rest } = taskRow(task)
    const res = await this.db.updateTable('scheduledTasks').set(rest).where('id', '=', id).executeTakeFirst()
    return Number(res.numUpdatedRows) > 0
  }

  async deleteTask(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('scheduledTasks').where('id', '=', id).executeTakeFirst()
    return Number(res.numDeletedRows) > 0
  }

  /** The earliest stored next run of an enabled task. */
  async earliestDue(): Promise<Date | null> {
    const row = await this.db
      .selectFrom('scheduledTasks')
      .select((eb) => eb.fn.min('nextRunAt').as('at'))
      .where('enabled', '=', toDbBool(true))
      .where('nextRunAt', 'is not', null)
      .executeTakeFirst()
    return fromDbTime(row?.at ?? null)
  }

  /**
   * Claims tasks due by `now + aheadMs` (now from the database clock on
   * PostgreSQL). `plan` decides per task; each plan is applied with a
   * compare-and-set, so a task another process claimed first is left alone.
   */
  async claimDue(
    aheadMs: number,
    limit: number,
    plan: (task: Task, now: Date) => ClaimPlan,
  ): Promise<Array<{ task: Task; runs: TaskRun[] }>> {
    return this.claimTransaction(async (trx) => {
      const now =
        this.engine === 'postgres'
          ? (fromDbTime((await sql<{ now: Date }>`select now() as now`.execute(trx)).rows[0].now) as Date)
          : new Date()
      const horizon = toDbTime(new Date(now.getTime() + aheadMs))
      let query = trx
        .selectFrom('scheduledTasks')
        .selectAll()
        .where('enabled', '=', toDbBool(true))
        .where('nextRunAt', 'is not', null)
        .where('nextRunAt', '<=', horizon)
        .orderBy('nextRunAt', 'asc')
        .limit(limit)
      if (this.engine === 'postgres') query = query.forUpdate().skipLocked()
      const due = (await query.execute()).map(toTask)
      if (due.length === 0) return []
      const plans = due.map((task) => ({ task, p: plan(task, now) }))
      // One compare-and-set statement for the whole batch (each row still
      // moves only if it holds its expected due time), then one insert of the
      // runs of the tasks it moved: two statements a batch, not two a task.
      const moved = new Set<string>()
      for (let i = 0; i < plans.length; i += 200) {
        const chunk = plans.slice(i, i + 200)
        const rows = await sql<{ id: string }>`update scheduled_tasks set next_run_at = case id ${sql.join(
          chunk.map((c) => sql`when ${c.task.id} then ${this.time(c.p.nextRunAt)}`),
          sql` `,
        )} end where enabled = ${toDbBool(true)} and (${sql.join(
          chunk.map((c) => sql`(id = ${c.task.id} and next_run_at = ${this.time(c.p.expectedDue)})`),
          sql` or `,
        )}) returning id`.execute(trx)
        for (const r of rows.rows) moved.add(r.id)
      }
      const claimed: Array<{ task: Task; runs: TaskRun[] }> = []
      const runs: ReturnType<typeof runRow>[] = []
      for (const { task, p } of plans) {
        if (!moved.has(task.id)) continue
        for (const run of p.runs) runs.push(runRow(run))
        claimed.push({ task: { ...task, nextRunAt: p.nextRunAt }, runs: p.runs })
      }
      for (let i = 0; i < runs.length; i += 500) {
        await trx
          .insertInto('taskRuns')
          .values(runs.slice(i, i + 500))
          .execute()
      }
      return claimed
    })
  }

  /** A time parameter; PostgreSQL needs its type where it cannot infer one (CASE, VALUES). */
  private time(at: Date | null) {
    const v = toDbTime(at)
    return this.engine === 'postgres' ? sql`cast(${v} as timestamptz)` : sql`${v}`
  }

  private async claimTransaction<T>(fn: (trx: Kysely<SchedulerDB>) => Promise<T>): Promise<T> {
    if (this.engine === 'postgres') {
      return this.db.transaction().execute((trx: Transaction<SchedulerDB>) => fn(trx))
    }
    // Kysely opens SQLite transactions DEFERRED; IMMEDIATE takes the write
    // lock up front so two processes on one file queue instead of failing.
    return this.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn)
      try {
        const result = await fn(conn)
        await sql`commit`.execute(conn)
        return result
      } catch (err) {
        await sql`rollback`.execute(conn)
        throw err
      }
    })
  }

  // ---- runs ----

  async insertRun(run: TaskRun): Promise<void> {
    await this.db.insertInto('taskRuns').values(runRow(run)).execute()
  }

  async getRun(id: string): Promise<TaskRunWithName | undefined> {
    const row = await this.db
      .selectFrom('taskRuns')
      .innerJoin('scheduledTasks', 'scheduledTasks.id', 'taskRuns.taskId')
      .selectAll('taskRuns')
      .select(['scheduledTasks.name as taskName', 'scheduledTasks.ownerId as ownerId'])
      .where('taskRuns.id', '=', id)
      .executeTakeFirst()
    return row ? { ...toRun(row), taskName: row.taskName, ownerId: row.ownerId } : undefined
  }

  async listRuns(q: {
    ownerId: string | null
    taskId?: string
    statuses?: readonly string[]
    limit: number
    offset: number
    withLogs?: boolean
  }): Promise<{ items: TaskRunWithName[]; total: number }> {
    let base = this.db
      .selectFrom('taskRuns')
      .innerJoin('scheduledTasks', 'scheduledTasks.id', 'taskRuns.taskId')
    if (q.ownerId !== null) base = base.where('scheduledTasks.ownerId', '=', q.ownerId)
    if (q.taskId) base = base.where('taskRuns.taskId', '=', q.taskId)
    if (q.statuses && q.statuses.length > 0) base = base.where('taskRuns.status', 'in', q.statuses)
    const [rows, count] = await Promise.all([
      base
        .selectAll('taskRuns')
        .select(['scheduledTasks.name as taskName', 'scheduledTasks.ownerId as ownerId'])
        .orderBy('taskRuns.createdAt', 'desc')
        .orderBy('taskRuns.id', 'desc')
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ])
    return {
      items: rows.map((r) => ({ ...toRun(r), taskName: r.taskName, ownerId: r.ownerId })),
      total: fromDbInt(count?.n ?? 0),
    }
  }

  /** The latest run of each task (for `lastRun`). */
  async latestRuns(taskIds: string[]): Promise<Map<string, TaskRun>> {
    const out = new Map<string, TaskRun>()
    if (taskIds.length === 0) return out
    const rows = await this.db
      .selectFrom('taskRuns as r')
      .selectAll('r')
      .where('r.taskId', 'in', taskIds)
      .where('r.id', '=', (eb) =>
        eb
          .selectFrom('taskRuns as r2')
          .select('r2.id')
          .whereRef('r2.taskId', '=', 'r.taskId')
          .orderBy('r2.createdAt', 'desc')
          .orderBy('r2.id', 'desc')
          .limit(1),
      )
      .execute()
    for (const r of rows) out.set(r.taskId, toRun(r))
    return out
  }

  /** pending -> running (compare-and-set); false when the run was cancelled or deleted meanwhile. */
  async markRunning(id: string, at: Date, claimedBy: string): Promise<boolean> {
    const res = await this.db
      .updateTable('taskRuns')
      .set({ status: 'running', startTime: toDbTime(at), claimedBy })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  /** pending -> running for many runs in one statement; returns the ids it moved. */
  async markRunningMany(ids: string[], at: Date, claimedBy: string): Promise<Set<string>> {
    const moved = new Set<string>()
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .updateTable('taskRuns')
        .set({ status: 'running', startTime: toDbTime(at), claimedBy })
        .where('id', 'in', ids.slice(i, i + 500))
        .where('status', '=', 'pending')
        .returning('id')
        .execute()
      for (const r of rows) moved.add(r.id)
    }
    return moved
  }

  /** Which of these tasks have a run in progress (any process). */
  async tasksRunning(taskIds: string[]): Promise<Set<string>> {
    const out = new Set<string>()
    for (let i = 0; i < taskIds.length; i += 500) {
      const rows = await this.db
        .selectFrom('taskRuns')
        .select('taskId')
        .distinct()
        .where('taskId', 'in', taskIds.slice(i, i + 500))
        .where('status', '=', 'running')
        .execute()
      for (const r of rows) out.add(r.taskId)
    }
    return out
  }

  async setJob(id: string, jobId: string): Promise<void> {
    await this.db.updateTable('taskRuns').set({ jobId }).where('id', '=', id).execute()
  }

  /**
   * Ends a run that is `from` (default running); false when it was already
   * ended (e.g. cancelled). On SQLite the calls made in one turn of the event
   * loop are written in one transaction (one commit, not one per run); each
   * keeps its own compare-and-set and its own answer.
   */
  finishRun(
    id: string,
    status: RunStatus,
    fields: { endTime: Date; logs?: string | null; error?: string | null },
    from: readonly RunStatus[] = ['running'],
  ): Promise<boolean> {
    const finish = { id, status, fields, from }
    if (this.engine !== 'sqlite') return this.finishOne(this.db, finish)
    return new Promise<boolean>((resolve, reject) => {
      if (!this.finishQueue) {
        this.finishQueue = []
        setImmediate(() => void this.flushFinishes())
      }
      this.finishQueue.push({ finish, resolve, reject })
    })
  }

  private finishQueue: Array<{
    finish: PendingFinish
    resolve: (ok: boolean) => void
    reject: (err: unknown) => void
  }> | null = null

  private async flushFinishes(): Promise<void> {
    const batch = this.finishQueue ?? []
    this.finishQueue = null
    try {
      const results =
        batch.length === 1
          ? [await this.finishOne(this.db, batch[0].finish)]
          : await this.claimTransaction(async (trx) => {
              const out: boolean[] = []
              for (const { finish } of batch) out.push(await this.finishOne(trx, finish))
              return out
            })
      for (const [i, b] of batch.entries()) b.resolve(results[i])
    } catch (err) {
      for (const b of batch) b.reject(err)
    }
  }

  private async finishOne(db: Kysely<SchedulerDB>, f: PendingFinish): Promise<boolean> {
    const sets = [sql`status = ${f.status}`, sql`end_time = ${this.time(f.fields.endTime)}`]
    if (f.fields.logs !== undefined) sets.push(sql`logs = ${f.fields.logs}`)
    if (f.fields.error !== undefined) sets.push(sql`error = ${f.fields.error}`)
    const res = await sql`update task_runs set ${sql.join(sets)} where id = ${f.id} and status in (${sql.join(
      f.from.map((s) => sql`${s}`),
    )})`.execute(db)
    return Number(res.numAffectedRows ?? 0) === 1
  }

  async hasRunning(taskId: string, exceptRunId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('taskRuns')
      .select('id')
      .where('taskId', '=', taskId)
      .where('status', '=', 'running')
      .where('id', '!=', exceptRunId)
      .limit(1)
      .executeTakeFirst()
    return row !== undefined
  }

  /** Cancels a task's pending runs (an edit or delete); returns their ids. */
  async cancelPending(taskId: string, reason: string, at: Date): Promise<string[]> {
    const rows = await this.db
      .updateTable('taskRuns')
      .set({ status: 'cancelled', endTime: toDbTime(at), error: reason })
      .where('taskId', '=', taskId)
      .where('status', '=', 'pending')
      .returning('id')
      .execute()
    return rows.map((r) => r.id)
  }

  async runStatuses(ids: string[]): Promise<Map<string, RunStatus>> {
    const out = new Map<string, RunStatus>()
    if (ids.length === 0) return out
    const rows = await this.db
      .selectFrom('taskRuns')
      .select(['id', 'status'])
      .where('id', 'in', ids)
      .execute()
    for (const r of rows) out.set(r.id, r.status as RunStatus)
    return out
  }

  // ---- instances ----

  async heartbeat(id: string, at: Date, info: { hostname: string; pid: number }): Promise<void> {
    const res = await this.db
      .updateTable('schedulerInstances')
      .set({ heartbeatAt: toDbTime(at) })
      .where('id', '=', id)
      .executeTakeFirst()
    if (Number(res.numUpdatedRows) === 0) {
      await this.db
        .insertInto('schedulerInstances')
        .values({
          id,
          hostname: info.hostname,
          pid: info.pid,
          startedAt: toDbTime(at),
          heartbeatAt: toDbTime(at),
        })
        .execute()
    }
  }

  async instancesOn(hostname: string): Promise<Array<{ id: string; pid: number | null }>> {
    const rows = await this.db
      .selectFrom('schedulerInstances')
      .select(['id', 'pid'])
      .where('hostname', '=', hostname)
      .execute()
    return rows.map((r) => ({ id: r.id, pid: r.pid === null ? null : fromDbInt(r.pid) }))
  }

  async removeInstance(id: string): Promise<void> {
    await this.db.deleteFrom('schedulerInstances').where('id', '=', id).execute()
  }

  /**
   * Ends the runs of processes that are gone: not this one, and not one whose
   * heartbeat is newer than `staleBefore`. Running ones failed, pending ones
   * (claimed, never fired) skipped. Returns how many.
   */
  async reapOrphans(
    selfId: string,
    staleBefore: Date,
    at: Date,
  ): Promise<{ failed: number; skipped: number }> {
    const live = this.db
      .selectFrom('schedulerInstances')
      .select('id')
      .where('heartbeatAt', '>=', toDbTime(staleBefore))
    const orphaned = (status: RunStatus) =>
      this.db
        .updateTable('taskRuns')
        .where('status', '=', status)
        .where((eb) =>
          eb.or([
            eb('claimedBy', 'is', null),
            eb.and([eb('claimedBy', '!=', selfId), eb('claimedBy', 'not in', live)]),
          ]),
        )
    const failed = await orphaned('running')
      .set({ status: 'failed', endTime: toDbTime(at), error: 'the scheduler process stopped during the run' })
      .executeTakeFirst()
    const skipped = await orphaned('pending')
      .set({
        status: 'skipped',
        endTime: toDbTime(at),
        error: 'the scheduler process stopped before the run started',
      })
      .executeTakeFirst()
    await this.db.deleteFrom('schedulerInstances').where('heartbeatAt', '<', toDbTime(staleBefore)).execute()
    return { failed: Number(failed.numUpdatedRows), skipped: Number(skipped.numUpdatedRows) }
  }
}
