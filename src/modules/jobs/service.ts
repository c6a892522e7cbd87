// The jobs ledger: one record of the long-running work in flight (device
// transfers, scheduler runs). Areas create jobs, report progress and finish
// them; progress writes are throttled so a fast job cannot flood the database.

import { newId } from '../../db/ids.js'
import type { Database } from '../../db/types.js'
import { fromDbInt, fromDbJson, fromDbTime, toDbJson, toDbTime } from '../../db/values.js'
import { ConflictError, NotFoundError } from '../../errors.js'
import type { EventBus, JobEventPayload } from '../../events/bus.js'

export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]
export const FINISHED_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled']

export interface Job {
  id: string
  name: string
  type: string
  status: JobStatus
  progress: number
  ownerId: string | null
  logs: string | null
  details: Record<string, unknown> | null
  error: string | null
  createdAt: Date
  updatedAt: Date
  startedAt: Date | null
  finishedAt: Date | null
}

export interface CreateJobInput {
  name: string
  type: string
  ownerId?: string | null
  details?: Record<string, unknown>
  /** Start as `running` at once (most callers start work immediately). */
  running?: boolean
}

/** How an owning area stops its job when someone cancels it. */
export type CancelHandler = (job: Job, reason: string) => void | Promise<void>

export interface JobsServiceOptions {
  db: Database
  bus: EventBus
  /** Minimum time between two progress writes of one job. */
  progressWriteIntervalMs?: number
  /** Cap on the logs text kept per job. */
  maxLogBytes?: number
  now?: () => Date
}

type JobRow = {
  id: string
  name: string
  type: string
  status: string
  progress: number | string
  ownerId: string | null
  logs: string | null
  details: unknown
  error: string | null
  createdAt: Date | string
  updatedAt: Date | string
  startedAt: Date | string | null
  finishedAt: Date | string | null
}

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    status: row.status as JobStatus,
    progress: fromDbInt(row.progress),
    ownerId: row.ownerId,
    logs: row.logs,
    details: fromDbJson(row.details),
    error: row.error,
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
    startedAt: fromDbTime(row.startedAt),
    finishedAt: fromDbTime(row.finishedAt),
  }
}

export function jobEventPayload(job: Job): JobEventPayload {
  return {
    id: job.id,
    name: job.name,
    type: job.type,
    status: job.status,
    progress: job.progress,
    ownerId: job.ownerId,
    details: job.details,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
  }
}

interface PendingProgress {
  progress: number
  details?: Record<string, unknown>
  timer: NodeJS.Timeout | null
  lastWriteAt: number
}

export class JobsService {
  private readonly db: Database
  private readonly bus: EventBus
  private readonly now: () => Date
  private readonly progressWriteIntervalMs: number
  private readonly maxLogBytes: number
  private readonly cancelHandlers = new Map<string, CancelHandler>()
  private readonly progressState = new Map<string, PendingProgress>()

  constructor(options: JobsServiceOptions) {
    this.db = options.db
    this.bus = options.bus
    this.now = options.now ?? (() => new Date())
    this.progressWriteIntervalMs = options.progressWriteIntervalMs ?? 500
    this.maxLogBytes = options.maxLogBytes ?? 256 * 1024
  }

  /** An area registers how to stop the jobs of a given type. */
  onCancel(type: string, handler: CancelHandler): void {
    this.cancelHandlers.set(type, handler)
  }

  async create(input: CreateJobInput): Promise<Job> {
    const at = this.now()
    const job: Job = {
      id: newId(),
      name: input.name,
      type: input.type,
      status: input.running ? 'running' : 'pending',
      progress: 0,
      ownerId: input.ownerId ?? null,
      logs: null,
      details: input.details ?? null,
      error: null,
      createdAt: at,
      updatedAt: at,
      startedAt: input.running ? at : null,
      finishedAt: null,
    }
    await this.db
      .insertInto('jobs')
      .values({
        id: job.id,
        name: job.name,
        type: job.type,
        status: job.status,
        progress: 0,
        ownerId: job.ownerId,
        logs: null,
        details: toDbJson(job.details),
        error: null,
        createdAt: toDbTime(at),
        updatedAt: toDbTime(at),
        startedAt: toDbTime(job.startedAt),
        finishedAt: null,
      })
      .execute()
    this.emit(job)
    return job
  }

  async get(id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toJob(row) : undefined
  }

  async start(id: string): Promise<Job> {
    const at = this.now()
    await this.db
      .updateTable('jobs')
      .set({ status: 'running', startedAt: toDbTime(at), updatedAt: toDbTime(at) })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute()
    return this.emitCurrent(id)
  }

  /**
   * Report progress (0-100). Writes at most once per progressWriteIntervalMs
   * per job; the last value is always written (trailing write).
   */
  progress(id: string, progress: number, details?: Record<string, unknown>): void {
    const value = Math.max(0, Math.min(100, Math.round(progress)))
    let state = this.progressState.get(id)
    if (!state) {
      state = { progress: value, details, timer: null, lastWriteAt: 0 }
      this.progressState.set(id, state)
    }
    state.progress = value
    if (details) state.details = details
    if (state.timer) return
    const wait = Math.max(0, state.lastWriteAt + this.progressWriteIntervalMs - Date.now())
    state.timer = setTimeout(() => void this.writeProgress(id), wait)
  }

  private async writeProgress(id: string): Promise<void> {
    const state = this.progressState.get(id)
    if (!state) return
    state.timer = null
    state.lastWriteAt = Date.now()
    const at = this.now()
    await this.db
      .updateTable('jobs')
      .set({
        progress: state.progress,
        ...(state.details ? { details: toDbJson(state.details) } : {}),
        updatedAt: toDbTime(at),
      })
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'running'])
      .execute()
      .catch(() => {})
    await this.emitCurrent(id).catch(() => {})
  }

  private async flushProgress(id: string): Promise<void> {
    const state = this.progressState.get(id)
    if (!state) return
    if (state.timer) clearTimeout(state.timer)
    this.progressState.delete(id)
  }

  /** Append to the job's logs, keeping at most maxLogBytes (the oldest text goes). */
  async appendLog(id: string, text: string): Promise<void> {
    const job = await this.get(id)
    if (!job) return
    let logs = (job.logs ?? '') + text + (text.endsWith('\n') ? '' : '\n')
    if (Buffer.byteLength(logs) > this.maxLogBytes) {
      logs = '[... earlier log lines truncated ...]\n' + logs.slice(logs.length - this.maxLogBytes)
    }
    await this.db.updateTable('jobs').set({ logs }).where('id', '=', id).execute()
  }

  async complete(id: string, details?: Record<string, unknown>): Promise<Job> {
    return this.finish(id, 'completed', null, details, 100)
  }

  async fail(id: string, error: string, details?: Record<string, unknown>): Promise<Job> {
    return this.finish(id, 'failed', error, details)
  }

  async markCancelled(id: string, reason: string, details?: Record<string, unknown>): Promise<Job> {
    return this.finish(id, 'cancelled', reason, details)
  }

  /** Ask the owning area to stop the job; finished jobs answer 409. */
  async cancel(id: string, reason = 'cancelled by user'): Promise<Job> {
    const job = await this.get(id)
    if (!job) throw new NotFoundError('job', id)
    if (FINISHED_JOB_STATUSES.includes(job.status)) {
      throw new ConflictError(`job ${id} is already ${job.status}`)
    }
    const handler = this.cancelHandlers.get(job.type)
    if (handler) await handler(job, reason)
    const after = await this.get(id)
    if (after && !FINISHED_JOB_STATUSES.includes(after.status)) return this.markCancelled(id, reason)
    return after ?? job
  }

  private async finish(
    id: string,
    status: JobStatus,
    error: string | null,
    details?: Record<string, unknown>,
    progress?: number,
  ): Promise<Job> {
    const pending = this.progressState.get(id)
    await this.flushProgress(id)
    const at = this.now()
    await this.db
      .updateTable('jobs')
      .set({
        status,
        error,
        finishedAt: toDbTime(at),
        updatedAt: toDbTime(at),
        ...(progress !== undefined ? { progress } : pending ? { progress: pending.progress } : {}),
        ...(details ? { details: toDbJson(details) } : {}),
      })
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'running'])
      .execute()
    return this.emitCurrent(id)
  }

  /** At start-up: jobs left running by a previous process cannot still be running. */
  async failInterrupted(reason = 'server stopped while the job was running'): Promise<number> {
    const at = toDbTime(this.now())
    const result = await this.db
      .updateTable('jobs')
      .set({ status: 'failed', error: reason, finishedAt: at, updatedAt: at })
      .where('status', 'in', ['running', 'pending'])
      .executeTakeFirst()
    return Number(result.numUpdatedRows ?? 0)
  }

  stop(): void {
    for (const state of this.progressState.values()) if (state.timer) clearTimeout(state.timer)
    this.progressState.clear()
  }

  private async emitCurrent(id: string): Promise<Job> {
    const job = await this.get(id)
    if (!job) throw new NotFoundError('job', id)
    this.emit(job)
    return job
  }

  private emit(job: Job): void {
    this.bus.emit('job.updated', { job: jobEventPayload(job) })
  }
}
