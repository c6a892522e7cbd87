// A run's entry in the jobs ledger (src/modules/jobs): written beside the
// action, never before it, so it does not delay the start; a failure to write
// it is logged and the run goes on without one.

import type { Logger } from '../../logger.js'
import { STARTED_BY_SCHEDULER } from '../jobs/started-by.js'
import { ActionCanceled } from './actions/index.js'
import type { SchedulerRepository } from './repository.js'
import { RUN_JOB_TYPE, type RunStatus, type Task, type TaskRun } from './types.js'

/** The part of the jobs service the scheduler uses (the jobs ledger). */
export interface JobsLedger {
  create(input: {
    name: string
    type: string
    ownerId?: string | null
    details?: Record<string, unknown>
    running?: boolean
    startedBy?: string | null
    onCancel?: (job: { id: string }, reason: string) => void | Promise<void>
  }): Promise<{ id: string }>
  /** Ends the job with the run's whole log, in one write. */
  end(
    id: string,
    outcome: { status: 'completed' | 'failed' | 'cancelled'; error?: string | null; log?: string },
  ): Promise<unknown>
}

export class RunLedger {
  constructor(
    private readonly jobs: JobsLedger | undefined,
    private readonly repo: SchedulerRepository,
    private readonly logger: Logger,
  ) {}

  /** The run's job, cancellable through the jobs API (which aborts the action and waits for `done`). */
  async open(
    run: TaskRun,
    task: Task,
    controller: AbortController,
    done: () => Promise<void> | undefined,
  ): Promise<string | null> {
    if (!this.jobs) return null
    try {
      const job = await this.jobs.create({
        name: `Task: ${task.name}`,
        type: RUN_JOB_TYPE,
        ownerId: task.ownerId,
        running: true,
        startedBy: STARTED_BY_SCHEDULER,
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
          await done()
        },
      })
      await this.repo.setJob(run.id, job.id)
      return job.id
    } catch (err) {
      this.logger.warn({ err, runId: run.id }, 'scheduler: could not record the run in the jobs ledger')
      return null
    }
  }

  async close(jobId: string | null, status: RunStatus, error: string | null, logs: string): Promise<void> {
    if (!this.jobs || !jobId) return
    try {
      await this.jobs.end(jobId, {
        status: status === 'success' ? 'completed' : status === 'cancelled' ? 'cancelled' : 'failed',
        error: error ?? status,
        log: logs,
      })
    } catch (err) {
      // Already finished (cancelled through the jobs API): nothing to add.
      this.logger.debug({ err, jobId }, 'scheduler: job already finished')
    }
  }
}
