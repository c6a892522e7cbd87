// The jobs ledger: one record of the long-running work in flight (device
// transfers, scheduler runs). Areas create jobs, report progress and finish
// them; progress writes are throttled so a fast job cannot flood the database.
// Every change is announced on the bus as `job.updated`.

import type { Principal } from '../../auth/principal.js'
import { assertRole, hasRole, ownerScope, visibleOr404 } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import type { Database, DbEngine } from '../../db/types.js'
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from '../../errors.js'
import type { EventBus, JobEventPayload } from '../../events/bus.js'
import { InstanceRegistry, type ProcessLiveness } from '../../process/liveness.js'
import { type JobListQuery, listFilterOf, statsFilterOf } from './caller-query.js'
import { CheckpointWriter } from './checkpoint-writer.js'
import { InterruptedJobs } from './interrupted.js'
import { jobEventPayload } from './job-event.js'
import { LogWriter } from './log-writer.js'
import { ProgressWriter } from './progress-writer.js'
import { JobsRepository } from './repository.js'
import { STARTED_BY_QUEUE } from './started-by.js'
import type { JobStatsGroupBy } from './stats.js'
import {
  type CancelHandler,
  type CreateJobInput,
  FINISHED_JOB_STATUSES,
  type Job,
  type JobStatus,
} from './types.js'

export type { JobListQuery } from './caller-query.js'
export { INSTANCE_STALE_MS } from './interrupted.js'
export { jobEventPayload } from './job-event.js'
export * from './types.js'

export interface JobsServiceOptions {
  db: Database
  bus: EventBus
  /** Minimum time between two progress writes of one job; default 500. */
  progressWriteIntervalMs?: number
  /** Cap on the logs text kept per job (the oldest text goes); default 256 KiB. */
  maxLogBytes?: number
  /** How far back finished jobs count as "recent" in the default list; default 24 h. */
  recentMs?: number
  now?: () => Date
  /** This process (AreaContext.instanceId): recorded on each job it creates. */
  instanceId?: string
  /**
   * This process's heartbeat (AreaContext.liveness): renewed before a job is
   * recorded and held until it ends, so peers never take the job for a dead
   * process's.
   */
  liveness?: ProcessLiveness
  /** The database engine (PostgreSQL needs typed parameters in batched writes). */
  engine: DbEngine
}

const isFinished = (status: JobStatus) => FINISHED_JOB_STATUSES.includes(status)

export class JobsService {
  readonly repository: JobsRepository
  private readonly bus: EventBus
  private readonly now: () => Date
  private readonly recentMs: number
  private readonly typeCancelHandlers = new Map<string, CancelHandler>()
  private readonly jobCancelHandlers = new Map<string, CancelHandler>()
  private readonly progressWriter: ProgressWriter
  private readonly logWriter: LogWriter
  private readonly checkpointWriter: CheckpointWriter
  private stopped = false
  private readonly liveness: ProcessLiveness | null
  private readonly interrupted: InterruptedJobs
  /** Releases of the heartbeat held by each job created here and not yet finished. */
  private readonly held = new Map<string, () => void>()

  readonly instanceId: string | null

  constructor(options: JobsServiceOptions) {
    this.instanceId = options.instanceId ?? null
    this.liveness = options.liveness ?? null
    this.repository = new JobsRepository(options.db, options.engine)
    this.interrupted = new InterruptedJobs(
      this.repository,
      new InstanceRegistry(options.db, options.engine),
      this.instanceId ?? '',
      this.liveness?.intervalMs ?? 0,
    )
    this.bus = options.bus
    this.now = options.now ?? (() => new Date())
    this.progressWriter = new ProgressWriter(
      this.repository,
      options.progressWriteIntervalMs ?? 500,
      this.now,
      (id) => this.emitCurrent(id),
    )
    this.logWriter = new LogWriter(this.repository, options.maxLogBytes ?? 256 * 1024, this.now)
    // A lost checkpoint write leaves the previous one; the next write or the final one carries on.
    this.checkpointWriter = new CheckpointWriter(this.repository, this.now, () => {})
    this.recentMs = options.recentMs ?? 24 * 3_600_000
  }

  /** An area registers how to stop the jobs of one type (e.g. 'device.upload'). */
  onCancel(type: string, handler: CancelHandler): () => void {
    this.typeCancelHandlers.set(type, handler)
    return () => {
      if (this.typeCancelHandlers.get(type) === handler) this.typeCancelHandlers.delete(type)
    }
  }

  async create(input: CreateJobInput): Promise<Job> {
    if (!input.name?.trim())
      throw new ValidationError('name must not be empty', [{ path: 'name', message: 'must not be empty' }])
    if (!input.type?.trim())
      throw new ValidationError('type must not be empty', [{ path: 'type', message: 'must not be empty' }])
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
      checkpoint: input.checkpoint ?? null,
      restartOf: input.restartOf ?? null,
      // A queue's pending job is started by the queue when it is dispatched.
      startedBy: input.startedBy ?? (input.queuedBy !== undefined ? STARTED_BY_QUEUE : null),
    }
    const queued = input.queuedBy !== undefined && !input.running
    if (this.liveness && !queued) {
      await this.liveness.ensureFresh()
      this.held.set(job.id, this.liveness.hold())
    }
    try {
      await this.repository.insert(job, queued ? null : this.instanceId, queued ? input.queuedBy : null)
    } catch (err) {
      this.release(job.id)
      throw err
    }
    if (input.onCancel) this.jobCancelHandlers.set(job.id, input.onCancel)
    this.emit(job)
    return job
  }

  async get(id: string): Promise<Job | undefined> {
    return this.repository.get(id)
  }

  /**
   * pending -> running, run by this process from now on (with the details and
   * first checkpoint given). 404 for an unknown id, 409 when it is not pending.
   */
  async start(id: string, start: Pick<CreateJobInput, 'details' | 'checkpoint'> = {}): Promise<Job> {
    const tookHold = this.liveness !== null && !this.held.has(id)
    if (tookHold) {
      await this.liveness!.ensureFresh()
      this.held.set(id, this.liveness!.hold())
    }
    let started = false
    try {
      started = await this.repository.markRunning(id, this.now(), { instanceId: this.instanceId, ...start })
    } finally {
      if (!started && tookHold) this.release(id)
    }
    if (!started) {
      const job = await this.repository.get(id)
      if (!job) throw new NotFoundError('job', id)
      if (job.status !== 'running') throw new ConflictError(`job ${id} is ${job.status}, not pending`)
      return job
    }
    return this.emitCurrent(id)
  }

  /**
   * Reports progress (0-100, clamped). The first report is written at once,
   * later ones at most once per progressWriteIntervalMs per job, and the last
   * value is always written (trailing write). Reports on a finished job are
   * ignored.
   */
  progress(id: string, progress: number, details?: Record<string, unknown>): void {
    if (!Number.isFinite(progress)) {
      throw new ValidationError(`progress must be a number from 0 to 100, got ${progress}`, [
        { path: 'progress', message: 'must be a number from 0 to 100' },
      ])
    }
    if (this.stopped) return
    this.progressWriter.report(id, Math.max(0, Math.min(100, Math.round(progress))), details)
  }

  /** Appends text to the job's logs, keeping the newest maxLogBytes. */
  appendLog(id: string, text: string): Promise<void> {
    return this.logWriter.append(id, text)
  }

  complete(id: string, details?: Record<string, unknown>): Promise<Job> {
    return this.finish(id, 'completed', null, details, 100)
  }

  /**
   * Ends a job with its whole log in one write (for owners that collect the
   * log themselves, like a scheduled task run): the log replaces the job's
   * log text, cut to the cap. Same answers as complete/fail/markCancelled.
   */
  end(
    id: string,
    outcome: { status: 'completed' | 'failed' | 'cancelled'; error?: string | null; log?: string },
  ): Promise<Job> {
    const error = outcome.status === 'completed' ? null : (outcome.error ?? outcome.status)
    const logs = outcome.log === undefined ? undefined : this.logWriter.cap(outcome.log)
    return this.finish(
      id,
      outcome.status,
      error,
      undefined,
      outcome.status === 'completed' ? 100 : undefined,
      logs,
    )
  }

  fail(id: string, error: string, details?: Record<string, unknown>): Promise<Job> {
    return this.finish(id, 'failed', error, details)
  }

  /**
   * Ends a job stopped by something outside it (a dropped link, a firmware
   * reset, a stopping server), with the checkpoint to restart it from.
   */
  interrupt(
    id: string,
    reason: string,
    details?: Record<string, unknown>,
    checkpoint?: Record<string, unknown>,
  ): Promise<Job> {
    return this.finish(id, 'interrupted', reason, details, undefined, undefined, checkpoint)
  }

  /**
   * Records where an active job stands, so a restart after a crash starts
   * there. Written in the background, newest first; ignored once the job ends.
   */
  saveCheckpoint(id: string, checkpoint: Record<string, unknown>): void {
    if (this.stopped) return
    this.checkpointWriter.save(id, checkpoint)
  }

  /** Records that the owning area stopped the job after a cancel. */
  markCancelled(id: string, reason: string, details?: Record<string, unknown>): Promise<Job> {
    return this.finish(id, 'cancelled', reason, details)
  }

  /**
   * Asks the owning area to stop the job (its per-job handler, else the one
   * for its type), then marks it cancelled unless the handler already
   * finished it. 404 unknown, 409 already finished, 422 the handler failed.
   */
  async cancel(id: string, reason = 'cancelled by user'): Promise<Job> {
    const job = await this.repository.get(id)
    if (!job) throw new NotFoundError('job', id)
    if (isFinished(job.status)) throw new ConflictError(`job ${id} is already ${job.status}`)
    const handler = this.jobCancelHandlers.get(id) ?? this.typeCancelHandlers.get(job.type)
    if (handler) {
      try {
        await handler(job, reason)
      } catch (error) {
        throw new UnprocessableError(
          `job ${id} could not be cancelled: ${(error as Error).message ?? error}`,
          {
            cause: error,
          },
        )
      }
    }
    const after = await this.repository.get(id)
    if (after && !isFinished(after.status)) return this.markCancelled(id, reason)
    return after ?? job
  }

  // ---- what the HTTP routes call: the same rules, scoped to the caller ----

  async listFor(principal: Principal, query: JobListQuery): Promise<{ items: Job[]; total: number }> {
    return this.repository.list(
      listFilterOf(principal, query, new Date(this.now().getTime() - this.recentMs)),
    )
  }

  async getFor(principal: Principal, id: string): Promise<Job> {
    const job = await this.repository.get(id)
    // Ownerless (system) jobs are visible to every user.
    if (job && job.ownerId === null) return job
    return visibleOr404(principal, job, 'job', id)
  }

  async cancelFor(principal: Principal, id: string): Promise<Job> {
    assertRole(principal, 'operator', 'cancel jobs')
    const job = await this.getFor(principal, id)
    if (job.ownerId === null && !hasRole(principal, 'admin')) {
      throw new ForbiddenError(`job ${id} is a system job; only an admin may cancel it`)
    }
    return this.cancel(id, `cancelled by ${principal.username}`)
  }

  /**
   * Subscribes to every job change (the `job.updated` payload), on any node of a cluster: for
   * live feeds to clients only, never for side effects. Returns the unsubscribe function.
   */
  onJobUpdated(listener: (job: JobEventPayload) => void): () => void {
    return this.bus.onAnyNode('job.updated', ({ job }) => listener(job))
  }

  /** Counts by outcome and run time, grouped; owner-scoped like the list. 400 for a bad range. */
  async statsFor(principal: Principal, query: { groupBy?: JobStatsGroupBy; from?: string; to?: string }) {
    const filter = statsFilterOf(principal, query)
    const groups = await this.repository.stats(filter)
    const { groupBy, from, to } = filter
    return { groupBy, from: from?.toISOString() ?? null, to: to?.toISOString() ?? null, groups }
  }

  /** May this caller see this job (for the live feed)? */
  canSee(principal: Principal, job: { ownerId: string | null }): boolean {
    return job.ownerId === null || ownerScope(principal) === null || job.ownerId === principal.id
  }

  /**
   * Ends the active jobs of Myntrix processes that are gone (at start-up, and
   * now and then after): never this process's, nor a live peer's on a shared
   * database. Jobs with a checkpoint end `interrupted`, others `failed`.
   */
  failInterrupted(reason = 'the server stopped while the job was active'): Promise<number> {
    return this.interrupted.fail(reason, this.now())
  }

  countByStatus(): Promise<Record<string, number>> {
    return this.repository.countByStatus()
  }

  /** Deletes up to `limit` finished jobs of `type` not updated since `before`; returns how many. */
  pruneFinished(type: string, before: Date, limit: number): Promise<number> {
    return this.repository.pruneFinished(type, before, limit)
  }

  /** Stops progress timers and waits for writes in flight. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.allSettled([
      ...this.progressWriter.stop(),
      ...this.logWriter.inFlight(),
      ...this.checkpointWriter.inFlight(),
    ])
    this.jobCancelHandlers.clear()
    for (const id of [...this.held.keys()]) this.release(id)
  }

  private async finish(
    id: string,
    status: JobStatus,
    error: string | null,
    details?: Record<string, unknown>,
    progress?: number,
    logs?: string,
    checkpoint?: Record<string, unknown>,
  ): Promise<Job> {
    // A progress write in flight must land before the final one, not after it;
    // so must a log append when the final write replaces the log, and a checkpoint.
    const lastProgress = await this.progressWriter.settle(id)
    if (logs !== undefined) await this.logWriter.settle(id)
    if (checkpoint !== undefined) await this.checkpointWriter.settle(id)
    let ended: Job | undefined
    try {
      ended = await this.repository.finish(id, {
        status,
        error,
        at: this.now(),
        progress: progress ?? lastProgress,
        details,
        logs,
        checkpoint,
      })
    } finally {
      // Also when the write failed: the job is then left active, and a peer
      // ends it as this process's once the heartbeat goes stale.
      this.release(id)
    }
    this.jobCancelHandlers.delete(id)
    if (!ended) {
      // Finishing twice (the owner reports failure after a cancel) is a no-op:
      // the first final status stands.
      const job = await this.repository.get(id)
      if (!job) throw new NotFoundError('job', id)
      return job
    }
    this.emit(ended)
    return ended
  }

  private release(id: string): void {
    this.held.get(id)?.()
    this.held.delete(id)
  }

  private async emitCurrent(id: string): Promise<Job> {
    const job = await this.repository.get(id)
    if (!job) throw new NotFoundError('job', id)
    this.emit(job)
    return job
  }

  private emit(job: Job): void {
    this.bus.emit('job.updated', { job: jobEventPayload(job) })
  }
}
