// Run history retention (MYNTRIX_SCHEDULER_HISTORY_DAYS, off by default: the
// seed asks for the complete history). When set, finished runs older than the
// retention and their `task.run` jobs are deleted hourly, in small batches with
// a turn of the event loop after each, so a firing never waits long behind a
// delete. Every process prunes; the deletes are idempotent.

import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Logger } from '../../logger.js'
import type { SchedulerRepository } from './repository.js'
import { RUN_JOB_TYPE } from './types.js'

/** The jobs ledger's part in retention: deleting finished jobs of one type. */
export interface JobsPruner {
  pruneFinished(type: string, before: Date, limit: number): Promise<number>
}

export interface HistoryRetentionOptions {
  repo: SchedulerRepository
  jobs?: JobsPruner
  /** Finished runs (and their jobs) older than this many days are deleted. */
  days: number
  logger: Logger
  /** Default hourly. */
  intervalMs?: number
  /** Rows per delete statement; default 500. */
  batch?: number
  now?: () => number
}

const DAY_MS = 86_400_000

export class HistoryRetention {
  private readonly opts: HistoryRetentionOptions
  private readonly batch: number
  private timer: NodeJS.Timeout | null = null
  private running: Promise<unknown> | null = null
  private stopped = false

  constructor(options: HistoryRetentionOptions) {
    this.opts = options
    this.batch = options.batch ?? 500
  }

  /** Prunes now, then every intervalMs. */
  start(): void {
    if (this.timer || this.stopped) return
    const tick = () => {
      if (this.running) return
      this.running = this.prune()
        .then((n) => {
          if (n.runs + n.jobs > 0)
            this.opts.logger.info(n, 'scheduler: pruned run history past its retention')
        })
        .catch((err) => this.opts.logger.error({ err }, 'scheduler: pruning run history failed'))
        .finally(() => {
          this.running = null
        })
    }
    tick()
    this.timer = setInterval(tick, this.opts.intervalMs ?? 3_600_000)
    this.timer.unref()
  }

  /** Idempotent; waits for a prune in progress to reach its next batch boundary. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.running
  }

  /** Deletes what is past the retention; returns how many runs and jobs. */
  async prune(): Promise<{ runs: number; jobs: number }> {
    const before = new Date((this.opts.now?.() ?? Date.now()) - this.opts.days * DAY_MS)
    // A turn of the event loop after every statement: on SQLite each one runs
    // synchronously, and 10,000 tasks' deletes back to back would hold up
    // timers (firings) and requests for the whole walk.
    let runs = 0
    for (const taskId of await this.opts.repo.taskIds()) {
      for (;;) {
        if (this.stopped) return { runs, jobs: 0 }
        const n = await this.opts.repo.pruneRuns(taskId, before, this.batch)
        runs += n
        await nextTurn()
        if (n < this.batch) break
      }
    }
    // After the runs, so a job's delete rarely finds a run still pointing at it;
    // this also takes the jobs of runs whose task was deleted.
    let jobs = 0
    const ledger = this.opts.jobs
    while (ledger && !this.stopped) {
      const n = await ledger.pruneFinished(RUN_JOB_TYPE, before, this.batch)
      jobs += n
      await nextTurn()
      if (n < this.batch) break
    }
    return { runs, jobs }
  }
}
