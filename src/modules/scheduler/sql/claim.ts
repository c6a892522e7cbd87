// The claim: the heart of exactly-once. In one transaction, move each due
// task's next_run_at from the due time to the next one only if it still holds
// the due time (compare-and-set), and insert its runs; UNIQUE (task_id,
// scheduled_for, attempt) is the second guard. PostgreSQL lets processes
// share the due set with FOR UPDATE SKIP LOCKED; SQLite serialises them with
// BEGIN IMMEDIATE.

import { type Kysely, sql, type Transaction } from 'kysely'
import { rawQuery, rows, typed } from '../../../db/raw.js'
import type { DB, DbEngine } from '../../../db/types.js'
import { fromDbTime, toDbBool, toDbTime } from '../../../db/values.js'
import type { ClaimPlan } from '../planner.js'
import { toTask } from '../rows.js'
import type { Task, TaskRun } from '../types.js'
import { lostClusterNodes } from './reap-orphans.js'

/** SQLite's default WAL auto-checkpoint threshold (pages), which src/db leaves as it is. */
const SQLITE_WAL_AUTOCHECKPOINT = 1000

/** Tasks claimed (and runs inserted) per statement: parameters stay far below both engines' limits. */
const CLAIM_CHUNK = 200

/** Decides per due task inside the claim: told whether it has a run in progress anywhere, and the plan made before the due time, if any. */
export type PlanDue = (task: Task, now: Date, busyElsewhere: boolean, prepared?: ClaimPlan) => ClaimPlan

/** Enabled tasks due by `until`, earliest first. */
export function dueQuery(db: Kysely<DB>, until: Date, limit: number) {
  return db
    .selectFrom('scheduledTasks')
    .selectAll()
    .where('enabled', '=', toDbBool(true))
    .where('nextRunAt', 'is not', null)
    .where('nextRunAt', '<=', toDbTime(until))
    .orderBy('nextRunAt', 'asc')
    .limit(limit)
}

/** Whether an enabled task is due now (the database clock on PostgreSQL). */
async function anyDue(db: Kysely<DB>, engine: DbEngine): Promise<boolean> {
  const postgres = engine === 'postgres'
  const found = await rawQuery(
    db,
    engine,
    'select id from scheduled_tasks where enabled = ? and next_run_at is not null' +
      ` and next_run_at <= ${postgres ? 'now()' : '?'} limit 1`,
    postgres ? [toDbBool(true)] : [toDbBool(true), toDbTime(new Date())],
  )
  return found.length > 0
}

/**
 * Which of these tasks have a run in progress (any process). A run of a cluster
 * node already declared lost does not count: it is failed at the next reap, and
 * an occurrence due meanwhile fires instead of being skipped for a dead run.
 */
export async function tasksRunning(
  db: Kysely<DB>,
  engine: DbEngine,
  taskIds: string[],
): Promise<Set<string>> {
  const out = new Set<string>()
  for (let i = 0; i < taskIds.length; i += 500) {
    const found = await db
      .selectFrom('taskRuns')
      .select('taskId')
      .distinct()
      .where('taskId', 'in', taskIds.slice(i, i + 500))
      .where('status', '=', 'running')
      .where((eb) =>
        eb.or([eb('claimedBy', 'is', null), eb('claimedBy', 'not in', lostClusterNodes(db, engine))]),
      )
      .execute()
    for (const r of found) out.add(r.taskId)
  }
  return out
}

/**
 * Claims the tasks due by now (the database clock on PostgreSQL), or the
 * `prepared` ones read earlier (SchedulerRepository.dueBy). `plan` decides
 * per task; each plan is applied with a compare-and-set on the task's due
 * time and its updated_at, so a task another process claimed first, or one
 * edited since it was read, is left alone (the next claim sees it).
 */
export async function claimDue(
  db: Kysely<DB>,
  engine: DbEngine,
  limit: number,
  plan: PlanDue,
  prepared?: Array<{ task: Task; plan?: ClaimPlan }>,
  /** Runs before the claim's writes when something is due (the process's heartbeat). */
  beforeClaim?: () => Promise<void>,
): Promise<Array<{ task: Task; runs: TaskRun[] }>> {
  if (prepared?.length === 0) return []
  // Most wake-ups find nothing due (an edit elsewhere, the periodic look):
  // a plain read answers that without taking the write lock.
  if (!prepared && !(await anyDue(db, engine))) return []
  await beforeClaim?.()
  return claimTransaction(db, engine, async (trx) => {
    const now =
      engine === 'postgres'
        ? (fromDbTime((await sql<{ now: Date }>`select now() as now`.execute(trx)).rows[0]?.now) as Date)
        : new Date()
    let due = prepared?.map((p) => p.task)
    if (!due) {
      let query = dueQuery(trx, now, limit)
      if (engine === 'postgres') query = query.forUpdate().skipLocked()
      due = (await query.execute()).map(toTask)
    }
    if (due.length === 0) return []
    const guarded = due.filter((t) => t.overlapPolicy !== 'allow').map((t) => t.id)
    const busy = guarded.length > 0 ? await tasksRunning(trx, engine, guarded) : new Set<string>()
    const plans = due.map((task, i) => ({
      task,
      p: plan(task, now, busy.has(task.id), prepared?.[i]?.plan),
    }))
    // One compare-and-set statement for the whole batch (each row moves only
    // if it still holds its expected due time), then one insert of the runs
    // of the tasks it moved. They are written as SQL text, not built with
    // Kysely: building, transforming and compiling a few hundred parameters
    // took longer than SQLite took to run them, and the claim sits between
    // the due time and the actions' start.
    const moved = await moveDue(trx, engine, plans)
    const claimed: Array<{ task: Task; runs: TaskRun[] }> = []
    const runs: TaskRun[] = []
    for (const { task, p } of plans) {
      if (!moved.has(task.id)) continue
      runs.push(...p.runs)
      claimed.push({ task: { ...task, nextRunAt: p.nextRunAt }, runs: p.runs })
    }
    await insertRuns(trx, engine, runs)
    return claimed
  })
}

/** The compare-and-set of next_run_at; returns the ids of the tasks it moved. */
async function moveDue(
  trx: Kysely<DB>,
  engine: DbEngine,
  plans: Array<{ task: Task; p: ClaimPlan }>,
): Promise<Set<string>> {
  const moved = new Set<string>()
  const t = typed(engine, 'timestamptz')
  for (let i = 0; i < plans.length; i += CLAIM_CHUNK) {
    const chunk = plans.slice(i, i + CLAIM_CHUNK)
    const params: unknown[] = []
    for (const c of chunk) {
      params.push(c.task.id, toDbTime(c.p.nextRunAt), toDbTime(c.p.expectedDue), toDbTime(c.task.updatedAt))
    }
    params.push(toDbBool(true))
    const movedRows = await rawQuery<{ id: string }>(
      trx,
      engine,
      `with v(task_id, new_next, due, seen_updated) as (values ${rows(chunk.length, `(?, ${t}, ${t}, ${t})`)})` +
        ' update scheduled_tasks set next_run_at = v.new_next from v' +
        ' where scheduled_tasks.id = v.task_id and scheduled_tasks.next_run_at = v.due' +
        ' and scheduled_tasks.updated_at = v.seen_updated and scheduled_tasks.enabled = ?' +
        ' returning scheduled_tasks.id',
      params,
    )
    for (const r of movedRows) moved.add(r.id)
  }
  return moved
}

async function insertRuns(trx: Kysely<DB>, engine: DbEngine, runs: TaskRun[]): Promise<void> {
  const t = typed(engine, 'timestamptz')
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
      engine,
      'insert into task_runs (id, task_id, scheduled_for, start_time, end_time, status, error, attempt,' +
        ` trigger, claimed_by, created_at) values ${rows(chunk.length, row)}`,
      params,
    )
  }
}

async function claimTransaction<T>(
  db: Kysely<DB>,
  engine: DbEngine,
  fn: (trx: Kysely<DB>) => Promise<T>,
): Promise<T> {
  if (engine === 'postgres') {
    return db.transaction().execute((trx: Transaction<DB>) => fn(trx))
  }
  // Kysely opens SQLite transactions DEFERRED; IMMEDIATE takes the write
  // lock up front so two processes on one file queue instead of failing.
  // The claim's commit stands between the due time and the actions' start,
  // so it never runs a WAL checkpoint (several ms, every thousand pages):
  // the next commit on the connection does, after the actions started.
  return db.connection().execute(async (conn) => {
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
