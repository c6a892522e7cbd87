// Tasks and runs in the database (snake_case stays in SQL, via
// CamelCasePlugin). The reads and the rare writes are here; each hot
// operation has its own file under sql/: the claim (sql/claim.ts), the
// batched run ends (sql/finish-batch.ts) and job links (sql/job-links.ts),
// the orphan reaping (sql/reap-orphans.ts, sql/run-processes.ts) and history
// retention (sql/prune-runs.ts).

import type { Kysely } from 'kysely'
import { announceChange } from '../../db/change-feed.js'
import { countOf } from '../../db/page.js'
import { rawQuery } from '../../db/raw.js'
import type { DB, DbEngine } from '../../db/types.js'
import { fromDbTime, toDbBool, toDbTime } from '../../db/values.js'
import type { ProcessIdentity } from '../../process/identity.js'
import { InstanceRegistry } from '../../process/liveness.js'
import type { ClaimPlan } from './planner.js'
import { runRow, taskRow, toRun, toTask } from './rows.js'
import { claimDue, dueQuery, type PlanDue, tasksRunning } from './sql/claim.js'
import { type RunEnd, RunFinisher } from './sql/finish-batch.js'
import { jobLinker } from './sql/job-links.js'
import { pruneRuns } from './sql/prune-runs.js'
import { type ReapedRuns, reapOrphans } from './sql/reap-orphans.js'
import { clearRunProcesses, orphanedRunProcesses, setRunProcess } from './sql/run-processes.js'
import type { RunStatus, Task, TaskRun, TaskRunWithName } from './types.js'

export type { ClaimPlan } from './planner.js'

export class SchedulerRepository {
  /** The processes' rows (`nodes`). */
  readonly instances: InstanceRegistry
  private readonly finisher: RunFinisher
  private readonly linkJob: (runId: string, jobId: string) => Promise<void>

  constructor(
    readonly db: Kysely<DB>,
    readonly engine: DbEngine,
  ) {
    this.instances = new InstanceRegistry(db, engine)
    this.finisher = new RunFinisher(db, engine)
    this.linkJob = jobLinker(db, engine)
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
    const [found, total] = await Promise.all([
      base
        .selectAll()
        .orderBy('createdAt', 'asc')
        .orderBy('id', 'asc')
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
      countOf(base),
    ])
    return { items: found.map(toTask), total }
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
    return (await dueQuery(this.db, until, limit).execute()).map(toTask)
  }

  /** See sql/claim.ts. */
  claimDue(
    limit: number,
    plan: PlanDue,
    prepared?: Array<{ task: Task; plan?: ClaimPlan }>,
    beforeClaim?: () => Promise<void>,
  ): Promise<Array<{ task: Task; runs: TaskRun[] }>> {
    return claimDue(this.db, this.engine, limit, plan, prepared, beforeClaim)
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
    const [found, total] = await Promise.all([
      base
        .selectAll('taskRuns')
        .select(['scheduledTasks.name as taskName', 'scheduledTasks.ownerId as ownerId'])
        .orderBy('taskRuns.createdAt', 'desc')
        .orderBy('taskRuns.id', 'desc')
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
      countOf(base),
    ])
    return { items: found.map((r) => ({ ...toRun(r), taskName: r.taskName, ownerId: r.ownerId })), total }
  }

  /** The latest run of each task (for `lastRun`). */
  async latestRuns(taskIds: string[]): Promise<Map<string, TaskRun>> {
    const out = new Map<string, TaskRun>()
    if (taskIds.length === 0) return out
    const found = await this.db
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
    for (const r of found) out.set(r.taskId, toRun(r))
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
  tasksRunning(taskIds: string[]): Promise<Set<string>> {
    return tasksRunning(this.db, this.engine, taskIds)
  }

  /** Links a run to its jobs-ledger entry; the links made in one turn are one statement. */
  setJob(id: string, jobId: string): Promise<void> {
    return this.linkJob(id, jobId)
  }

  /**
   * Ends a run that is `from` (default running); false when it was already
   * ended (e.g. cancelled). The calls made in one turn are one statement per
   * kind of call (sql/finish-batch.ts).
   */
  finishRun(
    id: string,
    status: RunStatus,
    fields: RunEnd,
    from: readonly RunStatus[] = ['running'],
  ): Promise<boolean> {
    return this.finisher.finish(id, status, fields, from)
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
    const found = await this.db
      .updateTable('taskRuns')
      .set({ status: 'cancelled', endTime: toDbTime(at), error: reason })
      .where('taskId', '=', taskId)
      .where('status', '=', 'pending')
      .returning('id')
      .execute()
    return found.map((r) => r.id)
  }

  async runStatuses(ids: string[]): Promise<Map<string, RunStatus>> {
    const out = new Map<string, RunStatus>()
    if (ids.length === 0) return out
    const found = await this.db
      .selectFrom('taskRuns')
      .select(['id', 'status'])
      .where('id', 'in', ids)
      .execute()
    for (const r of found) out.set(r.id, r.status as RunStatus)
    return out
  }

  // ---- history retention ----

  /** Every task's id (retention walks the history task by task). */
  async taskIds(): Promise<string[]> {
    return (await this.db.selectFrom('scheduledTasks').select('id').orderBy('id').execute()).map((r) => r.id)
  }

  /** See sql/prune-runs.ts. */
  pruneRuns(taskId: string, before: Date, limit: number): Promise<number> {
    return pruneRuns(this.db, taskId, before, limit)
  }

  // ---- processes started by runs (`script`), for crash recovery: sql/run-processes.ts ----

  setRunProcess(id: string, identity: ProcessIdentity): Promise<void> {
    return setRunProcess(this.db, id, identity)
  }

  clearRunProcesses(ids: string[]): Promise<void> {
    return clearRunProcesses(this.db, ids)
  }

  orphanedRunProcesses(
    selfId: string,
    staleBefore: Date,
  ): Promise<{ runId: string; process: ProcessIdentity }[]> {
    return orphanedRunProcesses(this.db, selfId, { engine: this.engine, staleBefore })
  }

  // ---- other processes ----

  /** Wakes other processes' engines after a task is created, edited or deleted (see change-feed.ts). */
  announceChange(): Promise<void> {
    return announceChange(this.db, this.engine)
  }

  /** See sql/reap-orphans.ts. */
  reapOrphans(selfId: string, staleBefore: Date, at: Date): Promise<ReapedRuns> {
    return reapOrphans(this.db, selfId, { engine: this.engine, staleBefore }, at)
  }
}
