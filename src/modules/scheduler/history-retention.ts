// Run history retention (MYNTRIX_SCHEDULER_HISTORY_DAYS, off by default: the
// seed asks for the complete history). When set, finished runs older than the
// retention and their `task.run` jobs are deleted hourly, in small batches with
// a turn of the event loop after each, so a firing never waits long behind a
// delete. Every process prunes; the deletes are idempotent.

import { drainBatches, type RetentionOptions, RetentionPass } from '../../db/housekeeping.js'
import type { SchedulerRepository } from './repository.js'
import { RUN_JOB_TYPE } from './types.js'

/** The jobs ledger's part in retention: deleting finished jobs of one type. */
export interface JobsPruner {
  pruneFinished(type: string, before: Date, limit: number): Promise<number>
}

export interface HistoryRetentionOptions extends RetentionOptions {
  repo: SchedulerRepository
  jobs?: JobsPruner
  /** Finished runs (and their jobs) older than this many days are deleted. */
  days: number
  now?: () => number
}

const DAY_MS = 86_400_000

export class HistoryRetention extends RetentionPass<{ runs: number; jobs: number }> {
  constructor(private readonly opts: HistoryRetentionOptions) {
    super(opts, {
      pruned: 'scheduler: pruned run history past its retention',
      failed: 'scheduler: pruning run history failed',
    })
  }

  /** Deletes what is past the retention; returns how many runs and jobs. */
  async prune(): Promise<{ runs: number; jobs: number }> {
    const before = new Date((this.opts.now?.() ?? Date.now()) - this.opts.days * DAY_MS)
    // Task by task, a turn of the event loop after every statement: 10,000
    // tasks' deletes back to back would hold up firings for the whole walk.
    const isStopped = () => this.periodic.stopped
    let runs = 0
    for (const taskId of await this.opts.repo.taskIds()) {
      if (isStopped()) return { runs, jobs: 0 }
      runs += await drainBatches((n) => this.opts.repo.pruneRuns(taskId, before, n), this.batch, isStopped)
    }
    // After the runs, so a job's delete rarely finds a run still pointing at it;
    // this also takes the jobs of runs whose task was deleted.
    const ledger = this.opts.jobs
    const jobs = ledger
      ? await drainBatches((n) => ledger.pruneFinished(RUN_JOB_TYPE, before, n), this.batch, isStopped)
      : 0
    return { runs, jobs }
  }
}
