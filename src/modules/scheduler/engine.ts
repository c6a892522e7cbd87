// The scheduler engine's loop (docs/SCHEDULER.md): claim at the due time,
// start at once.
//
// One wake-up timer sleeps until a few ms before the earliest stored
// next_run_at, reads and plans the tasks due then (planner.ts), and at the
// due time claims them in one transaction (sql/claim.ts): a compare-and-set
// moves each task's next_run_at on, and the run rows go in already `running`
// (or `skipped` / queued as `pending` when the overlap policy says so). The
// actions start as soon as that commits (runner.ts). One write per firing to
// start it and one to end it: an earlier design claimed 100 ms ahead and
// wrote `pending -> running` at the due time, a third write per firing and a
// window in which an edit had to cancel claimed runs.
//
// An idle engine (no runs here, no other live process) sleeps until that due
// time and nothing else: another process's edit reaches it through the
// database's change feed (src/db/change-feed.ts), and it writes no heartbeat
// (src/process/liveness.ts). While it holds runs, or without a change feed,
// it also wakes at least every maxSleepMs; while other processes are alive
// (one may die and leave runs to end, reaper.ts), every heartbeatMs.

import type { WatchChanges } from '../../db/change-feed.js'
import { newId } from '../../db/ids.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import type { ProcessLiveness } from '../../process/liveness.js'
import type { ActionRegistry, ActionServices } from './actions/index.js'
import { FeedWatch } from './feed-watch.js'
import { type ClaimPlan, confirmPlan, type PlanOptions, planClaim, ScheduleCache } from './planner.js'
import { RunReaper } from './reaper.js'
import type { SchedulerRepository } from './repository.js'
import { type JobsLedger, RunLedger } from './run-ledger.js'
import { type FireInfo, RunRunner } from './runner.js'
import type { Task, TaskRun } from './types.js'

export type { JobsLedger } from './run-ledger.js'
export type { FireInfo } from './runner.js'

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

const CLAIM_BATCH = 200
const RETRY_AFTER_ERROR_MS = 1000
/** Longest ahead of a due time its tasks are read and planned (see prepareClaim). */
const MAX_CLAIM_LEAD_MS = 25
/** A plan made before its due time is made again when the claim runs this much later. */
const STALE_PLAN_MS = 100
/** The longest delay a Node timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1
/** Change-feed wake-ups look for new or dead processes at most this often. */
const MIN_REAP_GAP_MS = 250
/** Another process's commits wake the engine at most this often (a busy peer on SQLite commits many times a second). */
const FEED_TICK_GAP_MS = 100

export class SchedulerEngine {
  readonly instanceId: string
  private readonly repo: SchedulerRepository
  private readonly opts: EngineOptions
  private readonly maxSleepMs: number
  private readonly heartbeatMs: number
  private readonly minGraceMs: number
  private readonly runner: RunRunner
  private readonly reaper: RunReaper
  private timer: NodeJS.Timeout | null = null
  /** When the armed timer ends its wait. */
  private wakeAt = 0
  /** When the last tick began. */
  private lastTickMs = Number.NEGATIVE_INFINITY
  /** The due time the current wake-up is for (see prepareClaim). */
  private dueTarget: number | null = null
  /** How long before a due time its tasks are read; follows the last read's time. */
  private claimLeadMs = 5
  private ticking = false
  private tickAgain = false
  private started = false
  private stopped = false
  private readonly liveness: ProcessLiveness
  /** A change-feed wake-up may be another process starting: look at the processes on the next tick. */
  private reapDue = false
  private readonly feed: FeedWatch
  private readonly background = new Set<Promise<unknown>>()
  private readonly schedules = new ScheduleCache()

  constructor(options: EngineOptions) {
    this.opts = options
    this.repo = options.repo
    this.instanceId = options.instanceId ?? newId()
    this.liveness = options.liveness
    this.maxSleepMs = options.maxSleepMs ?? 5000
    // The process's heartbeat interval is also the orphan check's: silent for 4x this is dead.
    this.heartbeatMs = options.liveness.intervalMs
    this.minGraceMs = options.minGraceMs ?? 1000
    this.runner = new RunRunner({
      repo: options.repo,
      registry: options.registry,
      bus: options.bus,
      logger: options.logger,
      ledger: new RunLedger(options.jobs, options.repo, options.logger),
      liveness: options.liveness,
      instanceId: this.instanceId,
      services: options.services,
      maxLogChars: options.maxLogChars,
      onFire: options.onFire,
      track: (p) => this.track(p),
      isStopped: () => this.stopped,
    })
    this.reaper = new RunReaper(options.repo, this.instanceId, this.heartbeatMs, options.logger)
    this.feed = new FeedWatch(options.watchChanges, options.logger, {
      change: () => {
        this.reapDue = true
        this.wakeSoon()
      },
      lost: () => this.notify(),
    })
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    // No heartbeat yet: an idle process has nothing for others to end (see liveness.ts).
    const reaped = await this.reap()
    if (reaped.failed + reaped.skipped > 0) {
      this.opts.logger.warn(reaped, 'scheduler: ended runs left behind by a stopped process')
    }
    await this.feed.openFeed()
    this.wake(0)
  }

  /** Idempotent: stops timers, cancels running actions, records unstarted runs as skipped. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.feed.close()
    const now = new Date()
    const unstarted = await this.runner.stop()
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
    this.runner.forgetTask(taskId, opts)
  }

  /** Cancels a run: pending ones here or in the database; running ones here by abort, elsewhere via the database. */
  cancelRun(runId: string, reason: string): Promise<boolean> {
    return this.runner.cancelRun(runId, reason)
  }

  /** Starts a run now, outside the schedule (manual runs ignore the overlap policy). */
  runNow(task: Task): Promise<TaskRun> {
    return this.runner.runNow(task)
  }

  isRunningHere(runId: string): boolean {
    return this.runner.isRunningHere(runId)
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
          (task, now, busyElsewhere, ready) =>
            confirmPlan(
              ready,
              task,
              now,
              busyElsewhere || this.runner.taskRunningHere(task.id),
              this.planOptions(task),
            ),
          prepared ?? undefined,
          fresh,
        )
        for (const { task, runs } of claimed) this.runner.startClaimed(task, runs)
        if (this.stopped) break
        // After a prepared claim, one plain claim picks up what it left:
        // tasks edited or made due since they were read.
        if (prepared) prepared = null
        else if (claimed.length < CLAIM_BATCH) break
      }
      // Bookkeeping after the claim, so it never delays a due firing.
      const sinceReap = Date.now() - this.reaper.lastReapMs
      if (sinceReap >= this.heartbeatMs || (this.reapDue && sinceReap >= MIN_REAP_GAP_MS)) await this.reap()
      await this.runner.drainQueues()
      await this.runner.checkRemoteCancels()
      if (this.feed.retryDue) this.track(this.feed.openFeed())
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

  private async reap(): Promise<{ failed: number; skipped: number }> {
    this.reapDue = false
    const reaped = await this.reaper.reap()
    // A run failed because its process died gets its task's retries, as any failed run does.
    for (const run of reaped.failedRuns) {
      if (this.stopped) break
      const task = await this.opts.repo.getTask(run.taskId)
      if (task && run.attempt <= task.maxRetries) {
        await this.runner
          .retry(run, task)
          .catch((err) =>
            this.opts.logger.warn(
              { err, runId: run.id },
              'scheduler: could not retry a run of a stopped process',
            ),
          )
      }
    }
    return reaped
  }

  /**
   * The longest sleep now. Idle, with a change feed and no other live
   * process, only the next due time (or an edit) wakes the engine. Runs in
   * flight here need remote cancels and queued runs looked at; a live peer
   * may die and leave runs to end; without a feed, other processes' edits
   * are found only by looking.
   */
  private sleepCapMs(): number {
    let cap = this.runner.busy || !this.feed.open ? this.maxSleepMs : MAX_TIMER_MS
    if (this.reaper.peers > 0) cap = Math.min(cap, this.heartbeatMs)
    if (this.reapDue) cap = Math.min(cap, MIN_REAP_GAP_MS)
    return cap
  }

  private planOptions(task: Task): PlanOptions {
    return {
      ...this.runner.origin(),
      minGraceMs: this.minGraceMs,
      schedule: this.schedules.get(task.schedule),
    }
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
    const prepared = tasks.map((task) => ({
      task,
      plan: planClaim(task, due, false, this.planOptions(task)),
    }))
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

  /** Keeps background promises so stop() can wait for them; errors are logged, never unhandled. */
  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err) => {
      if (!this.stopped) this.opts.logger.error({ err }, 'scheduler: background step failed')
    })
    this.background.add(tracked)
    void tracked.finally(() => this.background.delete(tracked))
  }
}
