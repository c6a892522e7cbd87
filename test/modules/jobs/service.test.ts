import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DatabaseHandle, migrate } from '../../../src/db/index.js'
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../../../src/errors.js'
import { EventBus, type JobEventPayload } from '../../../src/events/bus.js'
import { JobsService } from '../../../src/modules/jobs/service.js'
import { type TestDatabase, testEngines } from '../../helpers/engines.js'

describe.each(testEngines())('JobsService on $name', (engine) => {
  let testDb: TestDatabase
  let database: DatabaseHandle
  let bus: EventBus
  let events: JobEventPayload[]
  const services: JobsService[] = []

  beforeEach(async () => {
    testDb = await engine.createDatabase()
    database = testDb.open()
    await migrate(database)
    bus = new EventBus()
    events = []
    bus.on('job.updated', ({ job }) => events.push(job))
  })

  afterEach(async () => {
    while (services.length) await services.pop()?.stop()
    await database.close()
    await testDb.drop()
  })

  function makeService(
    options: { progressWriteIntervalMs?: number; maxLogBytes?: number; now?: () => Date } = {},
  ) {
    const s = new JobsService({ db: database.db, engine: database.engine, bus, ...options })
    services.push(s)
    return s
  }

  /** Resolves with the next job.updated event that matches. */
  function nextEvent(match: (job: JobEventPayload) => boolean): Promise<JobEventPayload> {
    return new Promise((resolve) => {
      const off = bus.on('job.updated', ({ job }) => {
        if (match(job)) {
          off()
          resolve(job)
        }
      })
    })
  }

  it('runs a job through create, start, progress and complete, announcing each step', async () => {
    const jobs = makeService({ progressWriteIntervalMs: 10 })
    const job = await jobs.create({ name: 'flash', type: 'device.upload', details: { file: 'a.gcode' } })
    expect(job).toMatchObject({ status: 'pending', progress: 0, ownerId: null, startedAt: null })
    const started = await jobs.start(job.id)
    expect(started.status).toBe('running')
    expect(started.startedAt).toBeInstanceOf(Date)
    const at40 = nextEvent((j) => j.progress === 40)
    jobs.progress(job.id, 40, { sentLines: 4 })
    expect((await at40).details).toEqual({ sentLines: 4 })
    const done = await jobs.complete(job.id, { sentLines: 10 })
    expect(done).toMatchObject({
      status: 'completed',
      progress: 100,
      details: { sentLines: 10 },
      error: null,
    })
    expect(done.finishedAt).toBeInstanceOf(Date)
    expect(events.map((e) => e.status)).toEqual(['pending', 'running', 'running', 'completed'])
    expect(events[3]).toMatchObject({ id: job.id, finishedAt: done.finishedAt?.toISOString() })
  })

  it('throttles progress writes and still keeps the last value', async () => {
    // An interval far longer than the test: after the first write nothing
    // more is written until the job finishes.
    const jobs = makeService({ progressWriteIntervalMs: 3_600_000 })
    const job = await jobs.create({ name: 'big upload', type: 'device.upload', running: true })
    const first = nextEvent((j) => j.progress > 0)
    for (let p = 1; p <= 1000; p++) jobs.progress(job.id, p / 10)
    // The leading write carries the value current when it ran: the burst was synchronous.
    expect((await first).progress).toBe(100)
    for (let p = 1; p <= 50; p++) jobs.progress(job.id, p)
    expect((await jobs.get(job.id))?.progress).toBe(100)
    const writesBefore = events.length
    const failed = await jobs.fail(job.id, 'cable pulled')
    // The pending (throttled) value 50 is written with the final status.
    expect(failed).toMatchObject({ status: 'failed', progress: 50, error: 'cable pulled' })
    expect(events.length).toBe(writesBefore + 1)
  })

  it('writes the trailing value after the interval', async () => {
    const jobs = makeService({ progressWriteIntervalMs: 30 })
    const job = await jobs.create({ name: 'x', type: 't', running: true })
    const first = nextEvent((j) => j.progress === 10)
    jobs.progress(job.id, 10)
    await first
    const trailing = nextEvent((j) => j.progress === 30)
    jobs.progress(job.id, 20)
    jobs.progress(job.id, 30)
    await trailing
    expect((await jobs.get(job.id))?.progress).toBe(30)
    expect(events.filter((e) => e.progress === 20)).toEqual([])
  })

  it('clamps progress to 0-100 and rejects non-numbers', async () => {
    const jobs = makeService({ progressWriteIntervalMs: 10 })
    const job = await jobs.create({ name: 'x', type: 't', running: true })
    const high = nextEvent((j) => j.progress === 100)
    jobs.progress(job.id, 250)
    await high
    expect(() => jobs.progress(job.id, Number.NaN)).toThrow(ValidationError)
    expect(() => jobs.progress(job.id, Number.POSITIVE_INFINITY)).toThrow(ValidationError)
  })

  it('rejects a job without name or type', async () => {
    const jobs = makeService()
    await expect(jobs.create({ name: ' ', type: 't' })).rejects.toBeInstanceOf(ValidationError)
    await expect(jobs.create({ name: 'n', type: '' })).rejects.toBeInstanceOf(ValidationError)
  })

  it('keeps the first final status when a job is finished twice', async () => {
    const jobs = makeService()
    const job = await jobs.create({ name: 'x', type: 't', running: true })
    await jobs.markCancelled(job.id, 'user asked')
    const again = await jobs.fail(job.id, 'transfer aborted')
    expect(again).toMatchObject({ status: 'cancelled', error: 'user asked' })
  })

  it('creates and ends many jobs in one turn, each with its own answer (batched writes)', async () => {
    const jobs = makeService()
    const created = await Promise.all(
      Array.from({ length: 30 }, (_, i) => jobs.create({ name: `j${i}`, type: 't', running: true })),
    )
    expect(new Set(created.map((j) => j.id)).size).toBe(30)
    const [first, ...rest] = created
    if (first === undefined) throw new Error('no job was created')
    const ended = await Promise.all([
      jobs.end(first.id, { status: 'failed', error: 'first verdict', log: 'a\n' }),
      // The same job ended again in the same turn: the first call wins.
      jobs.end(first.id, { status: 'completed', log: 'b\n' }),
      ...rest.map((j, i) => jobs.end(j.id, { status: i % 2 ? 'completed' : 'cancelled', log: `log ${i}\n` })),
    ])
    expect(ended[0]).toMatchObject({ status: 'failed', error: 'first verdict', logs: 'a\n' })
    expect(ended[1]).toMatchObject({ status: 'failed', error: 'first verdict', logs: 'a\n' })
    for (const [i, j] of rest.entries()) {
      const stored = await jobs.get(j.id)
      expect(stored).toMatchObject({
        status: i % 2 ? 'completed' : 'cancelled',
        logs: `log ${i}\n`,
        progress: i % 2 ? 100 : 0,
      })
      expect(stored?.finishedAt).toBeInstanceOf(Date)
    }
    await expect(jobs.end('nope', { status: 'completed' })).rejects.toBeInstanceOf(NotFoundError)
  })

  it('end() replaces the log with the given one, cut to the cap from a line boundary', async () => {
    const jobs = makeService({ maxLogBytes: 64 })
    const job = await jobs.create({ name: 'x', type: 't', running: true })
    await jobs.appendLog(job.id, 'appended earlier')
    const log = Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n')
    const ended = await jobs.end(job.id, { status: 'completed', log })
    expect(ended.logs?.startsWith('[... earlier log lines truncated ...]\n')).toBe(true)
    expect(ended.logs?.endsWith('line 19')).toBe(true)
    expect(Buffer.byteLength(ended.logs ?? '')).toBeLessThanOrEqual(64)
    expect(ended.logs).not.toContain('appended earlier')
  })

  it('answers 404 for unknown ids and 409 when starting a finished job', async () => {
    const jobs = makeService()
    await expect(jobs.start('nope')).rejects.toBeInstanceOf(NotFoundError)
    await expect(jobs.complete('nope')).rejects.toBeInstanceOf(NotFoundError)
    await expect(jobs.cancel('nope')).rejects.toBeInstanceOf(NotFoundError)
    const job = await jobs.create({ name: 'x', type: 't', running: true })
    await jobs.complete(job.id)
    await expect(jobs.start(job.id)).rejects.toBeInstanceOf(ConflictError)
  })

  describe('cancel', () => {
    it('calls the per-job handler, then marks the job cancelled', async () => {
      const jobs = makeService()
      const seen: string[] = []
      const job = await jobs.create({
        name: 'x',
        type: 'device.upload',
        running: true,
        onCancel: (j, reason) => {
          seen.push(`${j.id}:${reason}`)
        },
      })
      const cancelled = await jobs.cancel(job.id, 'stop it')
      expect(seen).toEqual([`${job.id}:stop it`])
      expect(cancelled).toMatchObject({ status: 'cancelled', error: 'stop it' })
    })

    it('uses the handler registered for the type, which may finish the job itself', async () => {
      const jobs = makeService()
      const off = jobs.onCancel('task.run', async (j) => {
        await jobs.markCancelled(j.id, 'run stopped by scheduler', { stoppedAt: 'line 3' })
      })
      const job = await jobs.create({ name: 'x', type: 'task.run', running: true })
      const cancelled = await jobs.cancel(job.id)
      expect(cancelled).toMatchObject({ status: 'cancelled', error: 'run stopped by scheduler' })
      expect(cancelled.details).toEqual({ stoppedAt: 'line 3' })
      off()
      const other = await jobs.create({ name: 'y', type: 'task.run', running: true })
      expect((await jobs.cancel(other.id)).error).toBe('cancelled by user')
    })

    it('refuses a finished job with 409', async () => {
      const jobs = makeService()
      const job = await jobs.create({ name: 'x', type: 't', running: true })
      await jobs.complete(job.id)
      await expect(jobs.cancel(job.id)).rejects.toBeInstanceOf(ConflictError)
    })

    it('answers 422 and leaves the job active when the handler fails', async () => {
      const jobs = makeService()
      const job = await jobs.create({
        name: 'x',
        type: 't',
        running: true,
        onCancel: () => {
          throw new Error('device does not answer')
        },
      })
      await expect(jobs.cancel(job.id)).rejects.toBeInstanceOf(UnprocessableError)
      expect((await jobs.get(job.id))?.status).toBe('running')
    })
  })

  it('appends logs in order and keeps only the newest bytes', async () => {
    const jobs = makeService({ maxLogBytes: 200 })
    const job = await jobs.create({ name: 'x', type: 't', running: true })
    await Promise.all(Array.from({ length: 30 }, (_, i) => jobs.appendLog(job.id, `line ${i}`)))
    const logs = (await jobs.get(job.id))?.logs ?? ''
    expect(Buffer.byteLength(logs)).toBeLessThanOrEqual(200)
    expect(logs.startsWith('[... earlier log lines truncated ...]\n')).toBe(true)
    expect(logs.endsWith('line 28\nline 29\n')).toBe(true)
    const lines = logs.split('\n').slice(1, -1)
    const numbers = lines.map((l) => Number(l.replace('line ', '')))
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b))
    await expect(jobs.appendLog('nope', 'x')).rejects.toBeInstanceOf(NotFoundError)
  })

  it("leaves a queue's pending job to the next process, and reaps it once started by a process now gone", async () => {
    const before = makeService()
    const queued = await before.create({ name: 'q', type: 't', queuedBy: 'device-queue' })
    const plain = await before.create({ name: 'p', type: 't' })
    await before.stop()
    const after = makeService()
    expect(await after.failInterrupted()).toBe(1)
    expect((await after.get(plain.id))?.status).toBe('failed')
    expect((await after.get(queued.id))?.status).toBe('pending')
    const started = await after.start(queued.id, {
      details: { deviceId: 'd1' },
      checkpoint: { lastAckedLine: 0 },
    })
    expect(started).toMatchObject({
      status: 'running',
      details: { deviceId: 'd1' },
      checkpoint: { lastAckedLine: 0 },
    })
    await expect(after.start(queued.id)).resolves.toMatchObject({ status: 'running' })
    await after.stop()
    // Running, it is a process's job like any other: the next one ends it, with its checkpoint.
    expect(await makeService().failInterrupted()).toBe(1)
    expect((await after.get(queued.id))?.status).toBe('interrupted')
  })

  it('marks jobs left active by a previous process as failed at start-up', async () => {
    const before = makeService()
    const running = await before.create({ name: 'r', type: 't', running: true })
    const pending = await before.create({ name: 'p', type: 't' })
    const done = await before.create({ name: 'd', type: 't', running: true })
    await before.complete(done.id)
    await before.stop()
    // A new process on the same database.
    const after = makeService()
    expect(await after.failInterrupted()).toBe(2)
    expect(await after.get(running.id)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/server stopped/),
    })
    expect((await after.get(pending.id))?.status).toBe('failed')
    expect((await after.get(done.id))?.status).toBe('completed')
    expect(await after.countByStatus()).toEqual({ completed: 1, failed: 2 })
  })
})
