export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ['pending', 'running']
export const FINISHED_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled']

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
  /** Why it failed or was cancelled. */
  error: string | null
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
  /** Stops this job when cancelled; wins over a handler registered for its type. */
  onCancel?: CancelHandler
}
