// What a claim does with a due task, decided without a database or a clock:
// everything it needs (the time of the claim, whether the task is busy, the
// run ids and creation time) is passed in, so unit tests drive it with plain
// values (test/modules/scheduler/planner.test.ts).
//
// A task due in the future (a plan made just before its due time) fires that
// occurrence. A task due in the past (downtime, a blocked loop) fires the
// latest missed occurrence if it is within the misfire grace (once,
// coalesced) and records the older ones as one `skipped` run. The next time
// is computed from the due time, not from "now", so every process computes
// the same value; daylight-saving gaps and repeats are cron.ts's nextAfter.

import { nextAfter, parseSchedule, type Schedule } from './cron.js'
import type { RunTrigger, Task, TaskRun } from './types.js'

/** What the engine decided for one due task inside the claim transaction. */
export interface ClaimPlan {
  /** The stored due time the compare-and-set expects. */
  expectedDue: Date
  nextRunAt: Date | null
  /** Runs to insert (the firing, and a `skipped` record of missed occurrences). */
  runs: TaskRun[]
}

/** Where new runs get their identity. */
export interface RunOrigin {
  /** The process that claims them (runs' claimedBy). */
  claimedBy: string
  newId: () => string
  createdAt: Date
}

export interface PlanOptions extends RunOrigin {
  /** Smallest misfire grace used, whatever the task says: claim jitter is not a misfire. */
  minGraceMs: number
  schedule: Schedule
}

/** Why an occurrence was skipped under overlapPolicy `skip` (in a claim, or a retry at its time). */
export const OVERLAP_SKIPPED = 'skipped: the previous run was still running (overlapPolicy skip)'

export function newRun(
  task: Task,
  o: { scheduledFor: Date | null; trigger: RunTrigger; attempt: number },
  origin: RunOrigin,
): TaskRun {
  return {
    id: origin.newId(),
    taskId: task.id,
    scheduledFor: o.scheduledFor,
    startTime: null,
    endTime: null,
    status: 'pending',
    logs: null,
    attempt: o.attempt,
    trigger: o.trigger,
    jobId: null,
    error: null,
    claimedBy: origin.claimedBy,
    createdAt: origin.createdAt,
  }
}

/**
 * The runs and next due time of a task claimed at `now`. The firing run is
 * `running` from the claim on, unless the task's previous run is still going
 * (`busy`): then the overlap policy skips it or queues it `pending`.
 */
export function planClaim(task: Task, now: Date, busy: boolean, o: PlanOptions): ClaimPlan {
  const due = task.nextRunAt as Date
  const { schedule } = o
  const nowMs = now.getTime()
  const firing = (scheduledFor: Date) => {
    const run = newRun(task, { scheduledFor, trigger: 'schedule', attempt: 1 }, o)
    if (busy && task.overlapPolicy === 'skip') {
      run.status = 'skipped'
      run.endTime = now
      run.error = OVERLAP_SKIPPED
    } else if (!busy || task.overlapPolicy === 'allow') {
      run.status = 'running'
      run.startTime = now
    }
    return run
  }
  if (due.getTime() > nowMs) {
    return {
      expectedDue: due,
      nextRunAt: nextAfter(schedule, task.timezone, due),
      runs: [firing(due)],
    }
  }
  const graceMs = Math.max(task.misfireGraceMs, o.minGraceMs)
  const runs: TaskRun[] = []
  const tooOld = due.getTime() < nowMs - graceMs
  // First occurrence still within the grace window.
  let cursor: Date | null = tooOld ? nextAfter(schedule, task.timezone, new Date(nowMs - graceMs - 1)) : due
  let latest: Date | null = null
  let coalesced = 0
  while (cursor && cursor.getTime() <= nowMs) {
    if (latest) coalesced++
    latest = cursor
    cursor = nextAfter(schedule, task.timezone, cursor)
  }
  if (tooOld || coalesced > 0) {
    const skipped = newRun(task, { scheduledFor: due, trigger: 'schedule', attempt: 1 }, o)
    skipped.status = 'skipped'
    skipped.endTime = now
    skipped.error = tooOld
      ? `missed: occurrences from ${due.toISOString()} were more than misfireGraceMs (${graceMs} ms) late` +
        (latest ? `; the latest, ${latest.toISOString()}, runs instead` : '')
      : `coalesced: ${coalesced + 1} missed occurrences from ${due.toISOString()} run once, as ${latest?.toISOString()}`
    runs.push(skipped)
  }
  if (latest) runs.push(firing(latest))
  return { expectedDue: due, nextRunAt: cursor, runs }
}

/**
 * A plan made before the due time holds unless the task turned out busy (then
 * it is planned again at `now`); its runs start now, not at the instant they
 * were planned for.
 */
export function confirmPlan(
  ready: ClaimPlan | undefined,
  task: Task,
  now: Date,
  busy: boolean,
  o: PlanOptions,
): ClaimPlan {
  if (!ready || busy) return planClaim(task, now, busy, o)
  for (const run of ready.runs) if (run.status === 'running') run.startTime = now
  return ready
}

const SCHEDULE_CACHE_MAX = 10_000

/** Parsed schedules by expression: parsing (with its validity check) is not redone per firing. */
export class ScheduleCache {
  private readonly schedules = new Map<string, Schedule>()

  get(expression: string): Schedule {
    let schedule = this.schedules.get(expression)
    if (!schedule) {
      schedule = parseSchedule(expression)
      if (this.schedules.size >= SCHEDULE_CACHE_MAX) this.schedules.clear()
      this.schedules.set(expression, schedule)
    }
    return schedule
  }
}
