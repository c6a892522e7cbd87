/**
 * `interrupted`: stopped by something outside the job (a dropped link, a
 * firmware reset or alarm, a stopped server) with a checkpoint to restart
 * from. Final like the others: an interrupted job never continues by itself;
 * an operator restarts it as a new job.
 */
export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'interrupted'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ['pending', 'running']
export const FINISHED_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled', 'interrupted']

export interface Job {
  id: string
  name: string
  type: string
  status: JobStatus
  /** 0-100 */
  progress: number
  /** The user the work belongs to; null for system work (visible to every user). */
  ownerId: string | null
  logs: string | null
  details: Record<string, unknown> | null
  /** Why it failed, was cancelled or interrupted. */
  error: string | null
  /** Where the job stood when last written (its owner's shape); null when it keeps none. */
  checkpoint: Record<string, unknown> | null
  /** The job this one restarts. */
  restartOf: string | null
  createdAt: Date
  updatedAt: Date
  startedAt: Date | null
  finishedAt: Date | null
}

/** How an owning area stops a job when someone cancels it. */
export type CancelHandler = (job: Job, reason: string) => void | Promise<void>

export interface CreateJobInput {
  name: string
  type: string
  ownerId?: string | null
  details?: Record<string, unknown>
  /** Start as `running` at once (most callers start work immediately). */
  running?: boolean
  /** The first checkpoint, written with the job (a job killed before its next one still has it). */
  checkpoint?: Record<string, unknown>
  restartOf?: string
  /**
   * Who keeps this `pending` job until it starts (e.g. 'device-queue'): no
   * process runs it yet, so it survives restarts until `start` takes it.
   */
  queuedBy?: string
  /** Stops this job when cancelled; wins over a handler registered for its type. */
  onCancel?: CancelHandler
}
