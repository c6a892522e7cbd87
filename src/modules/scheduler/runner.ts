// Running and recording runs in this process: a claimed run's action starts
// at once, its end is one write (batched per turn, sql/finish-batch.ts); the
// overlap policy's skips and queue, retries after a failure, cancels (here,
// or through another process's API, seen in the database) and the stop.

import { newId } from '../../db/ids.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import type { ProcessLiveness } from '../../process/liveness.js'
import {
  ActionCanceled,
  type ActionRegistry,
  type ActionServices,
  ActionTimeout,
  createLogSink,
  runAction,
} from './actions/index.js'
import { newRun, OVERLAP_SKIPPED, type RunOrigin } from './planner.js'
import type { SchedulerRepository } from './repository.js'
import type { RunLedger } from './run-ledger.js'
import type { RunStatus, RunTrigger, Task, TaskRun } from './types.js'
import { WaitingRuns } from './waiting-runs.js'

export interface FireInfo {
  runId: string
  taskId: string
  /** The occurrence (null for manual runs). */
  dueAt: Date | null
  startedAt: Date
}

export interface RunnerOptions {
  repo: SchedulerRepository
  registry: ActionRegistry
  bus: EventBus
  logger: Logger
  ledger: RunLedger
  liveness: ProcessLiveness
  instanceId: string
  services?: ActionServices | (() => ActionServices)
  maxLogChars?: number
  onFire?: (info: FireInfo) => void
  /** Keeps a background step for stop() to wait for (the engine's). */
  track: (p: Promise<unknown>) => void
  isStopped: () => boolean
}

interface ActiveRun {
  run: TaskRun
  task: Task
  startedAt: number
  controller: AbortController
  done: Promise<void>
}

const REMOTE_CANCEL_CHECK_AFTER_MS = 1000
/** How long stop() waits for running actions to end after aborting them. */
const STOP_WAIT_MS = 10_000

export class RunRunner {
  private readonly active = new Map<string, ActiveRun>()
  /** How many runs of each task are active here (the overlap check inside a claim). */
  private readonly activeTasks = new Map<string, number>()
  private readonly waiting = new WaitingRuns()

  constructor(private readonly o: RunnerOptions) {}

  /** Whether runs are in flight or held here (the engine then wakes at least every maxSleepMs). */
  get busy(): boolean {
    return this.active.size > 0 || this.waiting.size > 0
  }

  isRunningHere(runId: string): boolean {
    return this.active.has(runId)
  }

  taskRunningHere(taskId: string): boolean {
    return this.activeTasks.has(taskId)
  }

  newRun(task: Task, o: { scheduledFor: Date | null; trigger: RunTrigger; attempt: number }): TaskRun {
    return newRun(task, o, this.origin())
  }

  /** Where this process's new runs get their identity (the planner's too). */
  origin(): RunOrigin {
    return { claimedBy: this.o.instanceId, newId, createdAt: new Date() }
  }

  /** The runs a claim returned: `running` ones start now, `pending` ones queue, the rest are told. */
  startClaimed(task: Task, runs: TaskRun[]): void {
    for (const run of runs) {
      if (run.status === 'running') {
        this.o.track(this.begin(run, task, run.startTime as Date))
        continue
      }
      if (run.status === 'pending') this.enqueue(run, task)
      this.emitRun(run.id, task.id, run.status)
    }
  }

  /** Starts a run now, outside the schedule (manual runs ignore the overlap policy). */
  async runNow(task: Task): Promise<TaskRun> {
    const run = this.newRun(task, { scheduledFor: null, trigger: 'manual', attempt: 1 })
    await this.o.liveness.ensureFresh()
    await this.o.repo.insertRun(run)
    this.emitRun(run.id, task.id, 'pending')
    this.o.track(this.execute(run, task))
    return run
  }

  /** An edit or delete: drop this task's waiting retries and queued runs held here (their rows are cancelled by the service). */
  forgetTask(taskId: string, opts: { abortRunning: boolean; reason: string }): void {
    this.waiting.dropTask(taskId)
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
    this.waiting.dropRun(runId)
    const ended = await this.o.repo.finishRun(runId, 'cancelled', { endTime: new Date(), error: reason }, [
      'pending',
      'running',
    ])
    if (ended) this.emitRun(runId, '', 'cancelled')
    return ended
  }

  /** Aborts running actions and waits for them (at most STOP_WAIT_MS); returns the held runs that never started. */
  async stop(): Promise<TaskRun[]> {
    const unstarted = this.waiting.dropAll()
    for (const a of this.active.values()) a.controller.abort(new ActionCanceled('the server is stopping'))
    const waits = [...this.active.values()].map((a) => a.done)
    await Promise.race([Promise.allSettled(waits), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())])
    return unstarted
  }

  /** Starts the queued runs whose task has no run in progress any more. */
  async drainQueues(): Promise<void> {
    for (const taskId of this.waiting.queuedTasks()) {
      if (this.taskRunningHere(taskId) || (await this.o.repo.hasRunning(taskId, ''))) continue
      const next = this.waiting.takeQueued(taskId)
      if (next) this.o.track(this.execute(next.run, next.task).finally(next.release))
    }
  }

  /**
   * A run cancelled through another process's API is aborted here. Runs
   * started in the last second are left to the next tick: most end before it,
   * and asking about each run of a busy second would double the reads.
   */
  async checkRemoteCancels(): Promise<void> {
    const settled = Date.now() - REMOTE_CANCEL_CHECK_AFTER_MS
    const ids: string[] = []
    for (const [id, a] of this.active) if (a.startedAt <= settled) ids.push(id)
    if (ids.length === 0) return
    const statuses = await this.o.repo.runStatuses(ids)
    for (const id of ids) {
      const a = this.active.get(id)
      if (!a) continue
      const status = statuses.get(id)
      if (status === undefined || status === 'cancelled') {
        a.controller.abort(new ActionCanceled(status ? 'cancelled by user' : 'the task was deleted'))
      }
    }
  }

  /** overlapPolicy `queue`: the run waits (pending) until the task's current run ends. */
  private enqueue(run: TaskRun, task: Task): void {
    this.waiting.enqueue(run, task, this.o.liveness.hold())
  }

  /** A retry at its time: the overlap policy applies as it does to a scheduled firing. */
  private async fire(run: TaskRun, task: Task): Promise<void> {
    if (this.o.isStopped()) return
    if (
      task.overlapPolicy !== 'allow' &&
      (this.taskRunningHere(task.id) || (await this.o.repo.hasRunning(task.id, run.id)))
    ) {
      if (task.overlapPolicy === 'queue') return this.enqueue(run, task)
      const ended = await this.o.repo.finishRun(
        run.id,
        'skipped',
        { endTime: new Date(), error: OVERLAP_SKIPPED },
        ['pending'],
      )
      if (ended) this.emitRun(run.id, task.id, 'skipped')
      return
    }
    await this.execute(run, task)
  }

  private async execute(run: TaskRun, task: Task): Promise<void> {
    if (this.o.isStopped()) return
    const startedAt = new Date()
    if (!(await this.o.repo.markRunning(run.id, startedAt, this.o.instanceId))) return
    await this.begin(run, task, startedAt)
  }

  /** Runs an action whose run row is already `running`. */
  private async begin(run: TaskRun, task: Task, startedAt: Date): Promise<void> {
    const controller = new AbortController()
    let resolveDone: () => void = () => {}
    const done = new Promise<void>((r) => {
      resolveDone = r
    })
    const release = this.o.liveness.hold()
    this.active.set(run.id, { run, task, startedAt: startedAt.getTime(), controller, done })
    this.activeTasks.set(task.id, (this.activeTasks.get(task.id) ?? 0) + 1)
    this.o.onFire?.({ runId: run.id, taskId: task.id, dueAt: run.scheduledFor, startedAt })
    this.emitRun(run.id, task.id, 'running')
    const timeout =
      task.timeoutMs === null
        ? undefined
        : setTimeout(() => controller.abort(new ActionTimeout(task.timeoutMs as number)), task.timeoutMs)
    const job = this.o.ledger.open(run, task, controller, () => this.active.get(run.id)?.done)
    try {
      const log = createLogSink({ maxChars: this.o.maxLogChars })
      const late = run.scheduledFor
        ? ` (${startedAt.getTime() - run.scheduledFor.getTime()} ms after due)`
        : ''
      log.line(
        `run ${run.id}: ${task.action}, ${run.trigger}, attempt ${run.attempt}/${task.maxRetries + 1}, started ${startedAt.toISOString()}${late}`,
      )
      const services = typeof this.o.services === 'function' ? this.o.services() : (this.o.services ?? {})
      const result = await runAction(this.o.registry, task.action, task.payload, {
        signal: controller.signal,
        log,
        actor: { ownerId: task.ownerId },
        services,
        taskId: task.id,
        runId: run.id,
        processStarted: (identity) => this.o.repo.setRunProcess(run.id, identity),
      })
      clearTimeout(timeout)
      let status: RunStatus = result.ok ? 'success' : result.canceled ? 'cancelled' : 'failed'
      let error = result.ok ? null : (result.error ?? 'failed')
      if (result.timedOut) error = `timed out after ${task.timeoutMs} ms: ${error}`
      const endTime = new Date()
      const written = await this.o.repo.finishRun(run.id, status, { endTime, logs: result.logs, error })
      if (!written) {
        // Cancelled (or deleted) through the database meanwhile: keep that verdict, add the logs.
        status = 'cancelled'
        await this.o.repo.finishRun(run.id, 'cancelled', { endTime, logs: result.logs }, ['cancelled'])
      }
      await this.o.ledger.close(await job, status, error, result.logs)
      this.emitRun(run.id, task.id, status)
      if (status === 'failed' && run.attempt <= task.maxRetries && !this.o.isStopped())
        await this.scheduleRetry(run, task)
    } catch (err) {
      clearTimeout(timeout)
      this.o.logger.error({ err, runId: run.id }, 'scheduler: run bookkeeping failed')
      await this.o.repo
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
      if (this.waiting.hasQueued(task.id) && !this.o.isStopped()) this.o.track(this.drainQueues())
    }
  }

  /** Retries a run that failed elsewhere (its process died): the next attempt, after the task's retry delay. */
  retry(run: Pick<TaskRun, 'scheduledFor' | 'attempt'>, task: Task): Promise<void> {
    return this.scheduleRetry(run, task)
  }

  private async scheduleRetry(run: Pick<TaskRun, 'scheduledFor' | 'attempt'>, task: Task): Promise<void> {
    const retry = this.newRun(task, {
      scheduledFor: run.scheduledFor,
      trigger: 'retry',
      attempt: run.attempt + 1,
    })
    const release = this.o.liveness.hold()
    try {
      await this.o.repo.insertRun(retry)
    } catch (err) {
      release()
      throw err
    }
    this.emitRun(retry.id, task.id, 'pending')
    this.waiting.addRetry(retry, task.retryDelayMs, release, () => {
      // Re-read: the task may have been edited or deleted while waiting.
      this.o.track(
        this.o.repo
          .getTask(task.id)
          .then((fresh) => (fresh ? this.fire(retry, fresh) : undefined))
          .finally(release),
      )
    })
  }

  emitRun(runId: string, taskId: string, status: string): void {
    this.o.bus.emit('task.run', { runId, taskId, status })
  }
}
