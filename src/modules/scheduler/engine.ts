// The scheduler engine (docs/SCHEDULER.md): claim at the due time, start at once.
//
// One wake-up timer sleeps until a few ms before the earliest stored
// next_run_at, reads and plans the tasks due then, and at the due time claims
// them in one transaction: a compare-and-set moves each task's next_run_at
// on, and the run rows go in already `running` (or `skipped` / queued as
// `pending` when the overlap policy says so; see repository.ts). The actions start as soon as
// that commits. One write per firing to start it and one to end it: an earlier
// design claimed 100 ms ahead and wrote `pending -> running` at the due time,
// a third write per firing and a window in which an edit had to cancel claimed
// runs. The next time is computed from the due time, not from "now", so every
// process computes the same value.
//
// An idle engine (no runs here, no other live process) sleeps until that due
// time and nothing else: another process's edit reaches it through the
// database's change feed (src/db/change-feed.ts), and it writes no heartbeat
// (src/process/liveness.ts). While it holds runs, or without a change feed,
// it also wakes at least every maxSleepMs; while other processes are alive
// (one may die and leave runs to end), every heartbeatMs.

import type { ChangeWatch, WatchChanges } from '../../db/change-feed.js'
import { newId } from '../../db/ids.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import type { ProcessLiveness } from '../../process/liveness.js'
import { endOrphan } from '../../process/orphans.js'
import { readBootId } from '../../process/proc.js'
import {
  ActionCanceled,
  type ActionRegistry,
  type ActionServices,
  ActionTimeout,
  createLogSink,
  runAction,
} from './actions/index.js'
import { nextAfter, parseSchedule, type Schedule } from './cron.js'
import type { ClaimPlan, SchedulerRepository } from './repository.js'
import { RUN_JOB_TYPE, type RunStatus, type RunTrigger, type Task, type TaskRun } from './types.js'

/** The part of the jobs service the scheduler uses (the jobs ledger). */
export interface JobsLedger {
  create(input: {
    name: string
    type: string
    ownerId?: string | null
    details?: Record<string, unknown>
    running?: boolean
    onCancel?: (job: { id: string }, reason: string) => void | Promise<void>
  }): Promise<{ id: string }>
  /** Ends the job with the run's whole log, in one write. */
  end(
    id: string,
    outcome: { status: 'completed' | 'failed' | 'cancelled'; error?: string | null; log?: string },
  ): Promise<unknown>
}

export interface FireInfo {
  runId: string
  taskId: string
  /** The occurrence (null for manual runs). */
  dueAt: Date | null
  startedAt: Date
}

export interface EngineOptions {
  repo: SchedulerRepository
  registry: ActionRegistry
  bus: EventBus
  logger: Logger
  /** Services for the agent/device actions and the api allow-list; a function is read per run. */
  services?: ActionServices | (() => ActionServices)
  jobs?: JobsLedger
  /** This process's heartbeat, held while runs are in flight here; beats every heartbeatMs. */
  liveness: ProcessLiveness
  /** Notices other processes' commits; without it the engine polls every maxSleepMs. */
  watchChanges?: WatchChanges
  /**
   * Longest sleep while runs are in flight here (remote cancels, queued runs)
   * or when there is no change feed (default 5000). An idle engine with a
   * feed sleeps until the next due time.
   */
  maxSleepMs?: number
  /** Smallest misfire grace used, whatever the task says (default 1000): claim jitter is not a misfire. */
  minGraceMs?: number
  /** Cap on a run's captured log (default 64 KiB). */
  maxLogChars?: number
  /** Called as each run starts; the benchmark measures lateness with it. */
  onFire?: (info: FireInfo) => void
  instanceId?: string
}

interface QueuedRun {
  run: TaskRun
  task: Task
  release: () => void
}

interface ActiveRun {
  run: TaskRun
  task: Task
  startedAt: number
  controller: AbortController
  done: Promise<void>
}

const CLAIM_BATCH = 200
const RETRY_AFTER_ERROR_MS = 1000
const REMOTE_CANCEL_CHECK_AFTER_MS = 1000
/** Why an occurrence was skipped under overlapPolicy `skip` (in a claim, or a retry at its time). */
const OVERLAP_SKIPPED = 'skipped: the previous run was still running (overlapPolicy skip)'
/** Longest ahead of a due time its tasks are read and planned (see prepareClaim). */
const MAX_CLAIM_LEAD_MS = 25
/** A plan made before its due time is made again when the claim runs this much later. */
const STALE_PLAN_MS = 100
const SCHEDULE_CACHE_MAX = 10_000
/** How long stop() waits for running actions to end after aborting them. */
const STOP_WAIT_MS = 10_000
/** The longest delay a Node timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1
/** SIGTERM to SIGKILL for a script's group left behind by a dead process (a script's default grace). */
const ORPHAN_STOP_TIMEOUT_MS = 2000

/** Change-feed wake-ups look for new or dead processes at most this often. */
const MIN_REAP_GAP_MS = 250
/** Another process's commits wake the engine at most this often (a busy peer on SQLite commits many times a second). */
const FEED_TICK_GAP_MS = 100
/** The feed of a database no other process can reach (SQLite in memory): there is nothing to watch or poll for. */
const NOTHING_TO_WATCH: ChangeWatch = { close: async () => {} }
/** After the change feed is lost, how long until it is opened again. */
const FEED_RETRY_MS = 30_000

export class SchedulerEngine {
  readonly instanceId: string
  private readonly repo: SchedulerRepository
  private readonly opts: EngineOptions
  private readonly maxSleepMs: number
  private readonly heartbeatMs: number
  private readonly minGraceMs: number
  private timer: NodeJS.Timeout | null = null
  /** When the armed timer ends its wait. */
  private wakeAt = 0
  /** When the last tick began. */
  private lastTickMs = Number.NEGATIVE_INFINITY
  /** The due time the current wake-up is for (see prepareClaim). */
  private dueTarget: number | null = null
  /** How long before a due time its tasks are read; follows the last read's time. */
  private claimLeadMs = 5
  private readonly retryTimers = new Map<
    string,
    { timer: NodeJS.Timeout; run: TaskRun; release: () => void }
  >()
  private readonly active = new Map<string, ActiveRun>()
  /** How many runs of each task are active here (the overlap check inside a claim). */
  private readonly activeTasks = new Map<string, number>()
  /** overlapPolicy `queue`: runs waiting for the task's current run to end. */
  private readonly queued = new Map<string, QueuedRun[]>()
  private ticking = false
  private tickAgain = false
  private started = false
  private stopped = false
  private readonly liveness: ProcessLiveness
  private lastReapMs = Number.NEGATIVE_INFINITY
  /** A change-feed wake-up may be another process starting: look at the processes on the next tick. */
  private reapDue = false
  /** Other live processes at the last look. */
  private peers = 0
  private feed: ChangeWatch | null = null
  private lastFeedAttemptMs = Number.NEGATIVE_INFINITY
  private readonly background = new Set<Promise<unknown>>()
  private readonly schedules = new Map<string, Schedule>()

  constructor(options: EngineOptions) {
    this.opts = options
    this.repo = options.repo
    this.instanceId = options.instanceId ?? newId()
    this.liveness = options.liveness
    this.maxSleepMs = options.maxSleepMs ?? 5000
    // The process's heartbeat interval is also the orphan check's: silent for 4x this is dead.
    this.heartbeatMs = options.liveness.intervalMs
    this.minGraceMs = options.minGraceMs ?? 1000
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    // No heartbeat yet: an idle process has nothing for others to end (see liveness.ts).
    const reaped = await this.reap()
    if (reaped.failed + reaped.skipped > 0) {
      this.opts.logger.warn(reaped, 'scheduler: ended runs left behind by a stopped process')
    }
    await this.openFeed()
    this.wake(0)
  }

  /** Opens the change feed; on failure the engine polls every maxSleepMs and tries again later. */
  private async openFeed(): Promise<void> {
    const watch = this.opts.watchChanges
    if (!watch || this.feed || this.stopped) return
    this.lastFeedAttemptMs = Date.now()
    try {
      const feed = await watch({
        onChange: () => {
          this.reapDue = true
          this.wakeSoon()
        },
        onLost: (err) => {
          this.feed = null
          if (this.stopped) return
          this.opts.logger.warn({ err }, 'scheduler: lost the database change feed; polling until it is back')
          this.notify()
        },
      })
      if (this.stopped) await feed?.close()
      else this.feed = feed ?? NOTHING_TO_WATCH
    } catch (err) {
      this.opts.logger.warn({ err }, "scheduler: no database change feed; polling for other processes' edits")
    }
  }

  /** Idempotent: stops timers, cancels running actions, records unstarted runs as skipped. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const feed = this.feed
    this.feed = null
    await feed?.close()
    const now = new Date()
    const unstarted: TaskRun[] = []
    for (const { timer, run, release } of this.retryTimers.values()) {
      clearTimeout(timer)
      release()
      unstarted.push(run)
    }
    this.retryTimers.clear()
    for (const list of this.queued.values())
      for (const q of list) {
        q.release()
        unstarted.push(q.run)
      }
    this.queued.clear()
    for (const a of this.active.values()) a.controller.abort(new ActionCanceled('the server is stopping'))
    const waits = [...this.active.values()].map((a) => a.done)
    await Promise.race([Promise.allSettled(waits), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())])
    await Promise.allSettled([...this.background])
    if (!this.started) return
    try {
      for (const run of unstarted) {
        await this.repo.finishRun(
          run.id,
          'skipped',
          { endTime: now, error: 'the server stopped before the run started' },
          ['pending'],
        )
      }
      // The process's row goes with its liveness (app.ts), after every area has stopped.
    } catch (err) {
      this.opts.logger.warn({ err }, 'scheduler: could not record shutdown')
    }
  }

  /** Re-plans at once, here and (through the change feed) in other processes: call after a task is created, edited or deleted. */
  changed(): void {
    if (!this.started || this.stopped) return
    this.track(this.repo.announceChange())
    this.notify()
  }

  private notify(): void {
    if (this.started && !this.stopped) this.wake(0)
  }

  /**
   * Another process committed: tick soon, but at most every FEED_TICK_GAP_MS,
   * and never later than the wake-up already armed. A commit arriving during
   * a tick is covered by reapDue, which caps the next sleep.
   */
  private wakeSoon(): void {
    if (!this.started || this.stopped || this.ticking) return
    const at = Math.max(Date.now(), this.lastTickMs + FEED_TICK_GAP_MS)
    if (this.timer && this.wakeAt <= at) return
    this.wake(at - Date.now())
  }

  /** An edit or delete: drop this task's waiting retries and queued runs held here (their rows are cancelled by the service). */
  forgetTask(taskId: string, opts: { abortRunning: boolean; reason: string }): void {
    for (const [id, entry] of this.retryTimers) {
      if (entry.run.taskId === taskId) {
        clearTimeout(entry.timer)
        entry.release()
        this.retryTimers.delete(id)
      }
    }
    for (const q of this.queued.get(taskId) ?? []) q.release()
    this.queued.delete(taskId)
    if (opts.abortRunning) {
      for (const a of this.active.values()) {
        if (a.task.id === taskId) a.controller.abort(new ActionCanceled(opts.reason))
      }
    }
  }

  /** Cancels a run: pending ones here or in the database; running ones here by abort, elsewhere via the database. */
  async cancelRun(runId: string, reason: string): Promise<boolean> {
    const active = this.active.get(runId)
    if (active) {
      active.controller.abort(new ActionCanceled(reason))
      await active.done
      return true
    }
    const retry = this.retryTimers.get(runId)
    if (retry) {
      clearTimeout(retry.timer)
      retry.release()
      this.retryTimers.delete(runId)
    }
    for (const list of this.queued.values()) {
      const i = list.findIndex((q) => q.run.id === runId)
      if (i >= 0) list.splice(i, 1)[0].release()
    }
    const ended = await this.repo.finishRun(runId, 'cancelled', { endTime: new Date(), error: reason }, [
      'pending',
      'running',
    ])
    if (ended) this.emitRun(runId, '', 'cancelled')
    return ended
  }

  /** Starts a run now, outside the schedule (manual runs ignore the overlap policy). */
  async runNow(task: Task): Promise<TaskRun> {
    const run = this.newRun(task, { scheduledFor: null, trigger: 'manual', attempt: 1 })
    await this.liveness.ensureFresh()
    await this.repo.insertRun(run)
    this.emitRun(run.id, task.id, 'pending')
    this.track(this.execute(run, task))
    return run
  }

  isRunningHere(runId: string): boolean {
    return this.active.has(runId)
  }

  // ---- the loop ----

  /**
   * Ticks after `delayMs`. A long sleep is late by timer slack, so it ends
   * 10 ms early and a second short timer finishes the wait: the claim happens
   * at the due time, not a few ms after it.
   */
  private wake(delayMs: number): void {
    if (this.stopped) return
    if (this.timer) clearTimeout(this.timer)
    const at = Date.now() + delayMs
    this.wakeAt = at
    // Timers run on the loop's millisecond clock, which can be a fraction of
    // a millisecond ahead of Date.now(): re-check instead of trusting it.
    const step = () => {
      const waitMs = at - Date.now()
      if (waitMs > 20) this.timer = setTimeout(step, waitMs - 10)
      else if (waitMs > 0) this.timer = setTimeout(step, waitMs)
      else go()
    }
    const go = () => {
      this.timer = null
      this.track(this.tick())
    }
    step()
  }

  private async tick(): Promise<void> {
    if (this.stopped) return
    if (this.ticking) {
      this.tickAgain = true
      return
    }
    this.ticking = true
    this.lastTickMs = Date.now()
    let nextDelay = this.maxSleepMs
    const fresh = () => this.liveness.ensureFresh()
    try {
      let prepared = await this.prepareClaim()
      if (this.stopped) return
      for (;;) {
        const claimed = await this.repo.claimDue(
          CLAIM_BATCH,
          (task, now, busyElsewhere, ready) => {
            const busy = busyElsewhere || this.activeTasks.has(task.id)
            // A plan made before the due time holds unless the task turned out busy;
            // its runs start now, not at the instant they were planned for.
            if (!ready || busy) return this.plan(task, now, busy)
            for (const run of ready.runs) if (run.status === 'running') run.startTime = now
            return ready
          },
          prepared ?? undefined,
          fresh,
        )
        for (const { task, runs } of claimed) {
          for (const run of runs) {
            if (run.status === 'running') {
              this.track(this.begin(run, task, run.startTime as Date))
              continue
            }
            if (run.status === 'pending') this.enqueue(run, task)
            this.emitRun(run.id, task.id, run.status)
          }
        }
        if (this.stopped) break
        // After a prepared claim, one plain claim picks up what it left:
        // tasks edited or made due since they were read.
        if (prepared) prepared = null
        else if (claimed.length < CLAIM_BATCH) break
      }
      // Bookkeeping after the claim, so it never delays a due firing.
      const sinceReap = Date.now() - this.lastReapMs
      if (sinceReap >= this.heartbeatMs || (this.reapDue && sinceReap >= MIN_REAP_GAP_MS)) await this.reap()
      await this.drainQueues()
      await this.checkRemoteCancels()
      if (!this.feed && this.opts.watchChanges && Date.now() - this.lastFeedAttemptMs >= FEED_RETRY_MS)
        this.track(this.openFeed())
      const cap = this.sleepCapMs()
      nextDelay = cap
      const earliest = await this.repo.earliestDue()
      if (earliest) {
        // A due time already past is one we could not claim (another process
        // is claiming it): back off a little instead of spinning the loop.
        const untilDue = earliest.getTime() - Date.now()
        if (untilDue > 0) {
          this.dueTarget = earliest.getTime()
          nextDelay = Math.min(cap, Math.max(0, untilDue - this.claimLeadMs))
        } else nextDelay = 20
      }
    } catch (err) {
      if (this.stopped) return
      this.opts.logger.error({ err }, 'scheduler: tick failed; retrying')
      nextDelay = RETRY_AFTER_ERROR_MS
    } finally {
      this.ticking = false
    }
    if (this.tickAgain) {
      this.tickAgain = false
      nextDelay = 0
    }
    this.wake(nextDelay)
  }

  /**
   * The longest sleep now. Idle, with a change feed and no other live
   * process, only the next due time (or an edit) wakes the engine. Runs in
   * flight here need remote cancels and queued runs looked at; a live peer
   * may die and leave runs to end; without a feed, other processes' edits
   * are found only by looking.
   */
  private sleepCapMs(): number {
    const busy = this.active.size > 0 || this.retryTimers.size > 0 || this.queued.size > 0
    let cap = busy || !this.feed ? this.maxSleepMs : MAX_TIMER_MS
    if (this.peers > 0) cap = Math.min(cap, this.heartbeatMs)
    if (this.reapDue) cap = Math.min(cap, MIN_REAP_GAP_MS)
    return cap
  }

  /**
   * Woken a little before a due time: reads and plans the tasks due then and
   * waits for it, so that at the due time the claim is only its writes. Claiming early
   * instead (as `pending`, moved to `running` at the due time, as an earlier
   * version did) costs a third write per firing. The lead follows the last
   * read: half again plus 2 ms, at most MAX_CLAIM_LEAD_MS. Null when the
   * wake-up is not for a due time.
   */
  private async prepareClaim(): Promise<Array<{ task: Task; plan?: ClaimPlan }> | null> {
    const dueMs = this.dueTarget
    this.dueTarget = null
    if (dueMs === null || dueMs <= Date.now() || dueMs - Date.now() > MAX_CLAIM_LEAD_MS) return null
    const started = Date.now()
    const due = new Date(dueMs)
    const tasks = await this.repo.dueBy(due, CLAIM_BATCH)
    const prepared = tasks.map((task) => ({ task, plan: this.plan(task, due, false) }))
    // A heartbeat owed before the claim is written now, inside the lead, not after the due time.
    if (tasks.length > 0) await this.liveness.ensureFresh()
    this.claimLeadMs = Math.min(MAX_CLAIM_LEAD_MS, Math.max(2, Math.ceil((Date.now() - started) * 1.5) + 2))
    for (let wait = dueMs - Date.now(); wait > 0 && !this.stopped; wait = dueMs - Date.now()) {
      await new Promise((r) => setTimeout(r, wait))
    }
    // Woken far too late (a blocked event loop): plan again from the real now.
    if (Date.now() - dueMs > STALE_PLAN_MS) return tasks.map((task) => ({ task }))
    return prepared
  }

  /**
   * What to do with a due task: fire the stored occurrence, or after downtime
   * fire the latest missed one if it is within the misfire grace (once,
   * coalesced) and record the older ones as one `skipped` run. The firing run
   * is `running` from the claim on, unless the task's previous run is still
   * going (`busy`): then the overlap policy skips it or queues it `pending`.
   */
  private plan(task: Task, now: Date, busy: boolean): ClaimPlan {
    const due = task.nextRunAt as Date
    const schedule = this.parsed(task.schedule)
    const nowMs = now.getTime()
    const firing = (scheduledFor: Date) => {
      const run = this.newRun(task, { scheduledFor, trigger: 'schedule', attempt: 1 })
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
    const graceMs = Math.max(task.misfireGraceMs, this.minGraceMs)
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
      const skipped = this.newRun(task, { scheduledFor: due, trigger: 'schedule', attempt: 1 })
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

  /** Parsed schedules by expression: parsing (with its validity check) is not redone per firing. */
  private parsed(expression: string): Schedule {
    let schedule = this.schedules.get(expression)
    if (!schedule) {
      schedule = parseSchedule(expression)
      if (this.schedules.size >= SCHEDULE_CACHE_MAX) this.schedules.clear()
      this.schedules.set(expression, schedule)
    }
    return schedule
  }

  private newRun(
    task: Task,
    o: { scheduledFor: Date | null; trigger: RunTrigger; attempt: number },
  ): TaskRun {
    return {
      id: newId(),
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
      claimedBy: this.instanceId,
      createdAt: new Date(),
    }
  }

  /** The task's previous run is still going: skip or queue per overlapPolicy. */
  private async overlap(run: TaskRun, task: Task): Promise<void> {
    if (task.overlapPolicy === 'skip') {
      const ended = await this.repo.finishRun(
        run.id,
        'skipped',
        { endTime: new Date(), error: OVERLAP_SKIPPED },
        ['pending'],
      )
      if (ended) this.emitRun(run.id, task.id, 'skipped')
      return
    }
    this.enqueue(run, task)
  }

  /** overlapPolicy `queue`: the run waits (pending) until the task's current run ends. */
  private enqueue(run: TaskRun, task: Task): void {
    const list = this.queued.get(task.id) ?? []
    list.push({ run, task, release: this.liveness.hold() })
    this.queued.set(task.id, list)
  }

  private async fire(run: TaskRun, task: Task): Promise<void> {
    if (this.stopped) return
    if (
      task.overlapPolicy !== 'allow' &&
      (this.runningHere(task.id) || (await this.repo.hasRunning(task.id, run.id)))
    ) {
      await this.overlap(run, task)
      return
    }
    await this.execute(run, task)
  }

  private runningHere(taskId: string): boolean {
    return this.activeTasks.has(taskId)
  }

  private async drainQueues(): Promise<void> {
    for (const [taskId, list] of this.queued) {
      if (list.length === 0) {
        this.queued.delete(taskId)
        continue
      }
      if (this.runningHere(taskId) || (await this.repo.hasRunning(taskId, ''))) continue
      const next = list.shift() as QueuedRun
      if (list.length === 0) this.queued.delete(taskId)
      this.track(this.execute(next.run, next.task).finally(next.release))
    }
  }

  /**
   * A run cancelled through another process's API is aborted here. Runs
   * started in the last second are left to the next tick: most end before it,
   * and asking about each run of a busy second would double the reads.
   */
  private async checkRemoteCancels(): Promise<void> {
    const settled = Date.now() - REMOTE_CANCEL_CHECK_AFTER_MS
    const ids: string[] = []
    for (const [id, a] of this.active) if (a.startedAt <= settled) ids.push(id)
    if (ids.length === 0) return
    const statuses = await this.repo.runStatuses(ids)
    for (const id of ids) {
      const a = this.active.get(id)
      if (!a) continue
      const status = statuses.get(id)
      if (status === undefined || status === 'cancelled') {
        a.controller.abort(new ActionCanceled(status ? 'cancelled by user' : 'the task was deleted'))
      }
    }
  }

  private async execute(run: TaskRun, task: Task): Promise<void> {
    if (this.stopped) return
    const startedAt = new Date()
    if (!(await this.repo.markRunning(run.id, startedAt, this.instanceId))) return
    await this.begin(run, task, startedAt)
  }

  /** Runs an action whose run row is already `running`. */
  private async begin(run: TaskRun, task: Task, startedAt: Date): Promise<void> {
    const controller = new AbortController()
    let resolveDone: () => void = () => {}
    const done = new Promise<void>((r) => {
      resolveDone = r
    })
    const release = this.liveness.hold()
    this.active.set(run.id, { run, task, startedAt: startedAt.getTime(), controller, done })
    this.activeTasks.set(task.id, (this.activeTasks.get(task.id) ?? 0) + 1)
    this.opts.onFire?.({ runId: run.id, taskId: task.id, dueAt: run.scheduledFor, startedAt })
    this.emitRun(run.id, task.id, 'running')
    const timeout =
      task.timeoutMs === null
        ? undefined
        : setTimeout(() => controller.abort(new ActionTimeout(task.timeoutMs as number)), task.timeoutMs)
    // The jobs ledger entry is written beside the action, not before it: it must not delay the start.
    const job = this.createJob(run, task, controller)
    try {
      const log = createLogSink({ maxChars: this.opts.maxLogChars })
      const late = run.scheduledFor
        ? ` (${startedAt.getTime() - run.scheduledFor.getTime()} ms after due)`
        : ''
      log.line(
        `run ${run.id}: ${task.action}, ${run.trigger}, attempt ${run.attempt}/${task.maxRetries + 1}, started ${startedAt.toISOString()}${late}`,
      )
      const services =
        typeof this.opts.services === 'function' ? this.opts.services() : (this.opts.services ?? {})
      const result = await runAction(this.opts.registry, task.action, task.payload, {
        signal: controller.signal,
        log,
        actor: { ownerId: task.ownerId },
        services,
        taskId: task.id,
        runId: run.id,
        processStarted: (identity) => this.repo.setRunProcess(run.id, identity),
      })
      clearTimeout(timeout)
      let status: RunStatus = result.ok ? 'success' : result.canceled ? 'cancelled' : 'failed'
      let error = result.ok ? null : (result.error ?? 'failed')
      if (result.timedOut) error = `timed out after ${task.timeoutMs} ms: ${error}`
      const endTime = new Date()
      const written = await this.repo.finishRun(run.id, status, { endTime, logs: result.logs, error })
      if (!written) {
        // Cancelled (or deleted) through the database meanwhile: keep that verdict, add the logs.
        status = 'cancelled'
        await this.repo.finishRun(run.id, 'cancelled', { endTime, logs: result.logs }, ['cancelled'])
      }
      await this.finishJob(await job, status, error, result.logs)
      this.emitRun(run.id, task.id, status)
      if (status === 'failed' && run.attempt <= task.maxRetries && !this.stopped)
        await this.scheduleRetry(run, task)
    } catch (err) {
      clearTimeout(timeout)
      this.opts.logger.error({ err, runId: run.id }, 'scheduler: run bookkeeping failed')
      await this.repo
        .finishRun(run.id, 'failed', {
          endTime: new Date(),
          error: `internal error: ${(err as Error).message}`,
        })
        .catch(() => {})
    } finally {
      this.active.delete(run.id)
      const left = (this.activeTasks.get(task.id) ?? 1) - 1
      if (left > 0) this.activeTasks.set(task.id, left)
      else this.activeTasks.delete(task.id)
      release()
      resolveDone()
      if (this.queued.has(task.id) && !this.stopped) this.track(this.drainQueues())
    }
  }

  private async scheduleRetry(run: TaskRun, task: Task): Promise<void> {
    const retry = this.newRun(task, {
      scheduledFor: run.scheduledFor,
      trigger: 'retry',
      attempt: run.attempt + 1,
    })
    const release = this.liveness.hold()
    try {
      await this.repo.insertRun(retry)
    } catch (err) {
      release()
      throw err
    }
    this.emitRun(retry.id, task.id, 'pending')
    const timer = setTimeout(() => {
      this.retryTimers.delete(retry.id)
      // Re-read: the task may have been edited or deleted while waiting.
      this.track(
        this.repo
          .getTask(task.id)
          .then((fresh) => (fresh ? this.fire(retry, fresh) : undefined))
          .finally(release),
      )
    }, task.retryDelayMs)
    this.retryTimers.set(retry.id, { timer, run: retry, release })
  }

  private async createJob(run: TaskRun, task: Task, controller: AbortController): Promise<string | null> {
    if (!this.opts.jobs) return null
    try {
      const job = await this.opts.jobs.create({
        name: `Task: ${task.name}`,
        type: RUN_JOB_TYPE,
        ownerId: task.ownerId,
        running: true,
        details: {
          taskId: task.id,
          runId: run.id,
          action: task.action,
          trigger: run.trigger,
          attempt: run.attempt,
          scheduledFor: run.scheduledFor?.toISOString() ?? null,
        },
        onCancel: async (_job, reason) => {
          controller.abort(new ActionCanceled(reason))
          await this.active.get(run.id)?.done
        },
      })
      await this.repo.setJob(run.id, job.id)
      return job.id
    } catch (err) {
      this.opts.logger.warn({ err, runId: run.id }, 'scheduler: could not record the run in the jobs ledger')
      return null
    }
  }

  private async finishJob(
    jobId: string | null,
    status: RunStatus,
    error: string | null,
    logs: string,
  ): Promise<void> {
    const jobs = this.opts.jobs
    if (!jobs || !jobId) return
    try {
      await jobs.end(jobId, {
        status: status === 'success' ? 'completed' : status === 'cancelled' ? 'cancelled' : 'failed',
        error: error ?? status,
        log: logs,
      })
    } catch (err) {
      // Already finished (cancelled through the jobs API): nothing to add.
      this.opts.logger.debug({ err, jobId }, 'scheduler: job already finished')
    }
  }

  /** Ends the runs of dead processes and counts the live ones (peers). */
  private async reap(): Promise<{ failed: number; skipped: number }> {
    this.lastReapMs = Date.now()
    this.reapDue = false
    for (const id of await this.repo.instances.deadOnThisHost()) await this.repo.instances.remove(id)
    const now = Date.now()
    const staleBefore = new Date(now - 4 * this.heartbeatMs)
    // Before their runs are failed (and perhaps retried): a retry must not run beside the old copy.
    await this.endOrphanedProcesses(staleBefore)
    const reaped = await this.repo.reapOrphans(this.instanceId, staleBefore, new Date(now))
    this.peers = reaped.peers
    return reaped
  }

  /**
   * Ends the process groups that runs of dead processes left on this machine
   * (recognised by pid + start time + boot id, so a reused pid is never hit) and
   * forgets them. A group on another machine is left to that machine's next
   * start: its record stays until then.
   */
  private async endOrphanedProcesses(staleBefore: Date): Promise<void> {
    const found = await this.repo.orphanedRunProcesses(this.instanceId, staleBefore)
    if (found.length === 0) return
    const bootId = readBootId()
    const here = found.filter((f) => f.process.bootId === null || f.process.bootId === bootId)
    await Promise.all(
      here.map(async ({ runId, process }) => {
        const result = await endOrphan(process, ORPHAN_STOP_TIMEOUT_MS)
        if (result.ended) {
          this.opts.logger.warn(
            { runId, pid: process.pid, killed: result.killed },
            'scheduler: ended a process group left running by a stopped process',
          )
        }
      }),
    )
    await this.repo.clearRunProcesses(here.map((f) => f.runId))
  }

  private emitRun(runId: string, taskId: string, status: string): void {
    this.opts.bus.emit('task.run', { runId, taskId, status })
  }

  /** Keeps background promises so stop() can wait for them; errors are logged, never unhandled. */
  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err) => {
      if (!this.stopped) this.opts.logger.error({ err }, 'scheduler: background step failed')
    })
    this.background.add(tracked)
    void tracked.finally(() => this.background.delete(tracked))
  }
}
