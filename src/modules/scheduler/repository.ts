// SQL for tasks and runs (snake_case stays in here, via CamelCasePlugin). The
// claim is the heart of exactly-once: in one transaction, move a task's
// next_run_at from the due time to the next one only if it still holds the
// due time (compare-and-set), and insert the run; UNIQUE (task_id,
// scheduled_for, attempt) is the second guard. PostgreSQL lets processes
// share the due set with FOR UPDATE SKIP LOCKED; SQLite serialises them with
// BEGIN IMMEDIATE.

import { type ExpressionBuilder, type Kysely, sql, type Transaction } from 'kysely'
import { announceChange } from '../../db/change-feed.js'
import { placeholders, rawQuery, rows, typed } from '../../db/raw.js'
import { TurnBatch } from '../../db/turn-batch.js'
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
import { decodeProcess, encodeStartTime, type ProcessIdentity } from '../../process/identity.js'
import { InstanceRegistry } from '../../process/liveness.js'
import type { ActionType } from './actions/types.js'
import {
  FINISHED_RUN_STATUSES,
  type OverlapPolicy,
  type RunStatus,
  type RunTrigger,
  type Task,
  type TaskRun,
  type TaskRunWithName,
} from './types.js'

interface SchedulerInstancesTable {
  id: string
  hostname: string | null
  pid: number | null
  startedAt: string | Date
  heartbeatAt: string | Date
}

/** The foundation's tables plus what migrations 0401 and 0701 add. */
export type SchedulerDB = Omit<DB, 'taskRuns'> & {
  taskRuns: TaskRunsTable & { claimedBy: string | null; pid: number | null; pidStartTime: string | null }
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

/** SQLite's default WAL auto-checkpoint threshold (pages), which src/db leaves as it is. */
const SQLITE_WAL_AUTOCHECKPOINT = 1000

/** Tasks claimed (and runs inserted) per statement: parameters stay far below both engines' limits. */
const CLAIM_CHUNK = 200

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
  /** The processes' rows (scheduler_instances). */
  readonly instances: InstanceRegistry

  constructor(
    db: Kysely<DB>,
    readonly engine: DbEngine,
  ) {
    this.db = db as unknown as Db
    this.instances = new InstanceRegistry(db, engine)
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

  /** Whether an enabled task is due now (the database clock on PostgreSQL). */
  private async anyDue(): Promise<boolean> {
    const postgres = this.engine === 'postgres'
    const found = await rawQuery(
      this.db,
      this.engine,
      'select id from scheduled_tasks where enabled = ? and next_run_at is not null' +
        ` and next_run_at <= ${postgres ? 'now()' : '?'} limit 1`,
      postgres ? [toDbBool(true)] : [toDbBool(true), toDbTime(new Date())],
    )
    return found.length > 0
  }

  /** The earliest stored next run of an enabled task. */
  async earliestDue(): Promise<Date | null> {
    // Read on every wake-up: SQL text (a cached statement on SQLite), not a query built each time.
    const [row] = await rawQuery<{ at: string | Date | null }>(
      this.db,
      this.engine,
      'select min(next_run_at) as at from scheduled_tasks where enabled = ? and next_run_at is not null',
      [toDbBool(true)],
    )
    return fromDbTime(row?.at ?? null)
  }

  /**
   * The enabled tasks due by `until`, read without a lock: the engine reads
   * them just before a due time, so that at the due time the claim is only
   * the writes (see claimDue's `prepared`).
   */
  async dueBy(until: Date, limit: number): Promise<Task[]> {
    return (await this.dueQuery(this.db, until, limit).execute()).map(toTask)
  }

  /** Enabled tasks due by `until`, earliest first. */
  private dueQuery(db: Kysely<SchedulerDB>, until: Date, limit: number) {
    return db
      .selectFrom('scheduledTasks')
      .selectAll()
      .where('enabled', '=', toDbBool(true))
      .where('nextRunAt', 'is not', null)
      .where('nextRunAt', '<=', toDbTime(until))
      .orderBy('nextRunAt', 'asc')
      .limit(limit)
  }

  /**
   * Claims the tasks due by now (the database clock on PostgreSQL), or the
   * `prepared` ones read earlier by dueBy. `plan` decides per task, told
   * whether the task has a run in progress in any process (for the overlap
   * policy); each plan is applied with a compare-and-set on the task's due
   * time and its updated_at, so a task another process claimed first, or
   * one edited since it was read, is left alone (the next claim sees it).
   */
  async claimDue(
    limit: number,
    plan: (task: Task, now: Date, busyElsewhere: boolean, prepared?: ClaimPlan) => ClaimPlan,
    prepared?: Array<{ task: Task; plan?: ClaimPlan }>,
    /** Runs before the claim's writes when something is due (the process's heartbeat). */
    beforeClaim?: () => Promise<void>,
  ): Promise<Array<{ task: Task; runs: TaskRun[] }>> {
    if (prepared?.length === 0) return []
    // Most wake-ups find nothing due (an edit elsewhere, the periodic look):
    // a plain read answers that without taking the write lock.
    if (!prepared && !(await this.anyDue())) return []
    await beforeClaim?.()
    return this.claimTransaction(async (trx) => {
      const now =
        this.engine === 'postgres'
          ? (fromDbTime((await sql<{ now: Date }>`select now() as now`.execute(trx)).rows[0].now) as Date)
          : new Date()
      let due = prepared?.map((p) => p.task)
      if (!due) {
        let query = this.dueQuery(trx, now, limit)
        if (this.engine === 'postgres') query = query.forUpdate().skipLocked()
        due = (await query.execute()).map(toTask)
      }
      if (due.length === 0) return []
      const guarded = due.filter((t) => t.overlapPolicy !== 'allow').map((t) => t.id)
      const busy = guarded.length > 0 ? await this.tasksRunning(guarded, trx) : new Set<string>()
      const plans = due.map((task, i) => ({
        task,
        p: plan(task, now, busy.has(task.id), prepared?.[i].plan),
      }))
      // One compare-and-set statement for the whole batch (each row moves only
      // if it still holds its expected due time), then one insert of the runs
      // of the tasks it moved. They are written as SQL text, not built with
      // Kysely: building, transforming and compiling a few hundred parameters
      // took longer than SQLite took to run them, and the claim sits between
      // the due time and the actions' start.
      const moved = new Set<string>()
      const t = typed(this.engine, 'timestamptz')
      for (let i = 0; i < plans.length; i += CLAIM_CHUNK) {
        const chunk = plans.slice(i, i + CLAIM_CHUNK)
        const params: unknown[] = []
        for (const c of chunk) {
          params.push(
            c.task.id,
            toDbTime(c.p.nextRunAt),
            toDbTime(c.p.expectedDue),
            toDbTime(c.task.updatedAt),
          )
        }
        params.push(toDbBool(true))
        const movedRows = await rawQuery<{ id: string }>(
          trx,
          this.engine,
          `with v(task_id, new_next, due, seen_updated) as (values ${rows(chunk.length, `(?, ${t}, ${t}, ${t})`)})` +
            ' update scheduled_tasks set next_run_at = v.new_next from v' +
            ' where scheduled_tasks.id = v.task_id and scheduled_tasks.next_run_at = v.due' +
            ' and scheduled_tasks.updated_at = v.seen_updated and scheduled_tasks.enabled = ?' +
            ' returning scheduled_tasks.id',
          params,
        )
        for (const r of movedRows) moved.add(r.id)
      }
      const claimed: Array<{ task: Task; runs: TaskRun[] }> = []
      const runs: TaskRun[] = []
      for (const { task, p } of plans) {
        if (!moved.has(task.id)) continue
        runs.push(...p.runs)
        claimed.push({ task: { ...task, nextRunAt: p.nextRunAt }, runs: p.runs })
      }
      for (let i = 0; i < runs.length; i += CLAIM_CHUNK) {
        const chunk = runs.slice(i, i + CLAIM_CHUNK)
        const row = `(?, ?, ${t}, ${t}, ${t}, ?, ?, ?, ?, ?, ${t})`
        const params: unknown[] = []
        for (const r of chunk) {
          params.push(
            r.id,
            r.taskId,
            toDbTime(r.scheduledFor),
            toDbTime(r.startTime),
            toDbTime(r.endTime),
            r.status,
            r.error,
            r.attempt,
            r.trigger,
            r.claimedBy,
            toDbTime(r.createdAt),
          )
        }
        await rawQuery(
          trx,
          this.engine,
          'insert into task_runs (id, task_id, scheduled_for, start_time, end_time, status, error, attempt,' +
            ` trigger, claimed_by, created_at) values ${rows(chunk.length, row)}`,
          params,
        )
      }
      return claimed
    })
  }

  private async claimTransaction<T>(fn: (trx: Kysely<SchedulerDB>) => Promise<T>): Promise<T> {
    if (this.engine === 'postgres') {
      return this.db.transaction().execute((trx: Transaction<SchedulerDB>) => fn(trx))
    }
    // Kysely opens SQLite transactions DEFERRED; IMMEDIATE takes the write
    // lock up front so two processes on one file queue instead of failing.
    // The claim's commit stands between the due time and the actions' start,
    // so it never runs a WAL checkpoint (several ms, every thousand pages):
    // the next commit on the connection does, after the actions started.
    return this.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn)
      try {
        const result = await fn(conn)
        await sql`pragma wal_autocheckpoint = 0`.execute(conn)
        try {
          await sql`commit`.execute(conn)
        } finally {
          await sql.raw(`pragma wal_autocheckpoint = ${SQLITE_WAL_AUTOCHECKPOINT}`).execute(conn)
        }
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

  /** Which of these tasks have a run in progress (any process). */
  async tasksRunning(taskIds: string[], db: Kysely<SchedulerDB> = this.db): Promise<Set<string>> {
    const out = new Set<string>()
    for (let i = 0; i < taskIds.length; i += 500) {
      const rows = await db
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

  /** Links a run to its jobs-ledger entry; the links made in one turn are one statement. */
  setJob(id: string, jobId: string): Promise<void> {
    return this.jobLinks.add({ id, jobId })
  }

  private readonly jobLinks = new TurnBatch<{ id: string; jobId: string }, undefined>(async (links) => {
    await rawQuery(
      this.db,
      this.engine,
      `with v(run_id, new_job_id) as (values ${rows(links.length, '(?, ?)')})` +
        ' update task_runs set job_id = v.new_job_id from v where task_runs.id = v.run_id',
      links.flatMap((l) => [l.id, l.jobId]),
    )
    return links.map(() => undefined)
  })

  /**
   * Ends a run that is `from` (default running); false when it was already
   * ended (e.g. cancelled). The calls made in one turn of the event loop are
   * written together: one `UPDATE ... FROM (VALUES ...)` per kind of call, each
   * row still with its own compare-and-set on the status and its own answer.
   * A second of 100 firings is one statement, not 100.
   */
  finishRun(
    id: string,
    status: RunStatus,
    fields: { endTime: Date; logs?: string | null; error?: string | null },
    from: readonly RunStatus[] = ['running'],
  ): Promise<boolean> {
    return this.finishes.add({ id, status, fields, from })
  }

  private readonly finishes = new TurnBatch<PendingFinish, boolean>((batch) => this.writeFinishes(batch))

  /**
   * One turn's run ends: calls that set the same columns from the same
   * statuses share a statement. A run named twice in one turn is written in
   * call order: what is pending is written first.
   */
  private async writeFinishes(batch: PendingFinish[]): Promise<boolean[]> {
    const ended = new Map<PendingFinish, boolean>()
    const groups = new Map<string, PendingFinish[]>()
    const ids = new Set<string>()
    const writeGroups = async () => {
      for (const group of groups.values()) {
        const moved = await this.finishMany(group)
        for (const f of group) ended.set(f, moved.has(f.id))
      }
      groups.clear()
      ids.clear()
    }
    for (const f of batch) {
      if (ids.has(f.id)) await writeGroups()
      ids.add(f.id)
      const key = `${f.from.join(',')}|${f.fields.logs !== undefined}|${f.fields.error !== undefined}`
      const group = groups.get(key)
      if (group) group.push(f)
      else groups.set(key, [f])
    }
    await writeGroups()
    return batch.map((f) => ended.get(f) ?? false)
  }

  /** One statement for runs that set the same columns from the same statuses; returns the ids it ended. */
  private async finishMany(finishes: PendingFinish[]): Promise<Set<string>> {
    const { from, fields } = finishes[0]
    const withLogs = fields.logs !== undefined
    const withError = fields.error !== undefined
    const columns = ['run_id', 'status', 'end_time']
    // The run's action ended its process group on the way out: nothing left to recover.
    const sets = ['status = v.status', 'end_time = v.end_time', 'pid = null', 'pid_start_time = null']
    const row = ['?', '?', typed(this.engine, 'timestamptz')]
    if (withLogs) {
      columns.push('logs')
      sets.push('logs = v.logs')
      row.push('?')
    }
    if (withError) {
      columns.push('error')
      sets.push('error = v.error')
      row.push('?')
    }
    const params: unknown[] = []
    for (const f of finishes) {
      params.push(f.id, f.status, toDbTime(f.fields.endTime))
      if (withLogs) params.push(f.fields.logs ?? null)
      if (withError) params.push(f.fields.error ?? null)
    }
    params.push(...from)
    const ended = await rawQuery<{ id: string }>(
      this.db,
      this.engine,
      `with v(${columns.join(', ')}) as (values ${rows(finishes.length, `(${row.join(', ')})`)})` +
        ` update task_runs set ${sets.join(', ')} from v` +
        ` where task_runs.id = v.run_id and task_runs.status in (${placeholders(from.length)})` +
        ' returning task_runs.id',
      params,
    )
    return new Set(ended.map((r) => r.id))
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

  // ---- history retention ----

  /** Every task's id (retention walks the history task by task). */
  async taskIds(): Promise<string[]> {
    return (await this.db.selectFrom('scheduledTasks').select('id').orderBy('id').execute()).map((r) => r.id)
  }

  /**
   * Deletes up to `limit` finished runs of one task created before `before`;
   * returns how many. Per task, so the (task_id, created_at) index finds just
   * the expired rows, and bounded, so no delete holds the write lock long.
   */
  async pruneRuns(taskId: string, before: Date, limit: number): Promise<number> {
    const res = await this.db
      .deleteFrom('taskRuns')
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('taskRuns')
          .select('id')
          .where('taskId', '=', taskId)
          .where('createdAt', '<', toDbTime(before))
          .where('status', 'in', [...FINISHED_RUN_STATUSES])
          .limit(limit),
      )
      .executeTakeFirst()
    return Number(res.numDeletedRows)
  }

  // ---- processes started by runs (`script`), for crash recovery ----

  /** Records the process group a run started (see 0701_task_run_process.ts). */
  async setRunProcess(id: string, identity: ProcessIdentity): Promise<void> {
    await this.db
      .updateTable('taskRuns')
      .set({ pid: identity.pid, pidStartTime: encodeStartTime(identity) })
      .where('id', '=', id)
      .execute()
  }

  async clearRunProcesses(ids: string[]): Promise<void> {
    if (ids.length === 0) return
    await this.db
      .updateTable('taskRuns')
      .set({ pid: null, pidStartTime: null })
      .where('id', 'in', ids)
      .execute()
  }

  /**
   * Processes recorded on runs that no live process looks after: running runs of
   * processes that are gone (as reapOrphans sees them), and finished runs that a
   * reaper on another host failed without being able to end their process.
   */
  async orphanedRunProcesses(
    selfId: string,
    staleBefore: Date,
  ): Promise<{ runId: string; process: ProcessIdentity }[]> {
    const live = this.db
      .selectFrom('schedulerInstances')
      .select('id')
      .where('heartbeatAt', '>=', toDbTime(staleBefore))
    const found = await this.db
      .selectFrom('taskRuns')
      .select(['id', 'pid', 'pidStartTime'])
      .where('pid', 'is not', null)
      .where((eb) =>
        eb.or([
          eb('status', '!=', 'running'),
          eb('claimedBy', 'is', null),
          eb.and([eb('claimedBy', '!=', selfId), eb('claimedBy', 'not in', live)]),
        ]),
      )
      .execute()
    return found.flatMap((r) => {
      const identity = decodeProcess(r.pid, r.pidStartTime)
      return identity ? [{ runId: r.id, process: identity }] : []
    })
  }

  // ---- instances (rows written by src/process/liveness.ts) ----

  /** Wakes other processes' engines after a task is created, edited or deleted (see change-feed.ts). */
  announceChange(): Promise<void> {
    return announceChange(this.db, this.engine)
  }

  /**
   * Ends the runs of processes that are gone: not this one, and not one whose
   * heartbeat is newer than `staleBefore`. Running ones failed, pending ones
   * (claimed, never fired) skipped. Returns how many, and how many other
   * processes are alive (`peers`: while there are any, one of them may die
   * and leave runs behind, so the engine keeps looking).
   */
  async reapOrphans(
    selfId: string,
    staleBefore: Date,
    at: Date,
  ): Promise<{ failed: number; skipped: number; peers: number }> {
    const stale = toDbTime(staleBefore)
    const live = this.db.selectFrom('schedulerInstances').select('id').where('heartbeatAt', '>=', stale)
    /** Claimed by no process, or by another one without a fresh heartbeat. */
    const orphan = (eb: ExpressionBuilder<SchedulerDB, 'taskRuns'>) =>
      eb.or([
        eb('claimedBy', 'is', null),
        eb.and([eb('claimedBy', '!=', selfId), eb('claimedBy', 'not in', live)]),
      ])
    // Nearly every call finds nothing to end: reads answer that without the
    // write lock (three empty writes every heartbeat were most of an idle
    // engine's CPU). They ask what the writes below would change; the
    // instances table is a row per process, so it is read whole.
    const instances = await this.db.selectFrom('schedulerInstances').select(['id', 'heartbeatAt']).execute()
    const isStale = (i: { heartbeatAt: unknown }) =>
      (fromDbTime(i.heartbeatAt)?.getTime() ?? 0) < staleBefore.getTime()
    if (!instances.some(isStale)) {
      const peers = instances.filter((i) => i.id !== selfId).length
      const orphanedRun = await this.db
        .selectFrom('taskRuns')
        .select('id')
        .where('status', 'in', ['running', 'pending'])
        .where(orphan)
        .limit(1)
        .executeTakeFirst()
      if (!orphanedRun) return { failed: 0, skipped: 0, peers }
    }
    const orphaned = (status: RunStatus) =>
      this.db.updateTable('taskRuns').where('status', '=', status).where(orphan)
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
    await this.db.deleteFrom('schedulerInstances').where('heartbeatAt', '<', stale).execute()
    // Counted again: a process read as stale above may have beaten since, and kept its row.
    const left = await this.db
      .selectFrom('schedulerInstances')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('id', '!=', selfId)
      .executeTakeFirstOrThrow()
    return {
      failed: Number(failed.numUpdatedRows),
      skipped: Number(skipped.numUpdatedRows),
      peers: fromDbInt(left.n),
    }
  }
}
