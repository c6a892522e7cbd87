// The scheduler's storage, driven directly. The claim's compare-and-set: a
// task read (and planned) before its due time is claimed only if it is
// unchanged, and never twice. The reaper: runs of processes that are gone are
// ended, nothing else. Retention: only finished history past the cutoff goes.

import { sql } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuthRepository } from '../../../src/auth/repository.js'
import { newId } from '../../../src/db/ids.js'
import { type DatabaseHandle, migrate } from '../../../src/db/index.js'
import { toDbTime } from '../../../src/db/values.js'
import { silentLogger } from '../../../src/logger.js'
import { JobsRepository } from '../../../src/modules/jobs/repository.js'
import type { Job } from '../../../src/modules/jobs/types.js'
import { nextAfter } from '../../../src/modules/scheduler/cron.js'
import { HistoryRetention } from '../../../src/modules/scheduler/history-retention.js'
import { type ClaimPlan, SchedulerRepository } from '../../../src/modules/scheduler/repository.js'
import type { Task, TaskRun } from '../../../src/modules/scheduler/types.js'
import { InstanceRegistry } from '../../../src/process/liveness.js'
import { type TestDatabase, testEngines } from '../../helpers/engines.js'

describe.each(testEngines())('scheduler repository on $name', (engine) => {
  let testDb: TestDatabase
  let handle: DatabaseHandle
  let repo: SchedulerRepository
  let owner: string

  beforeEach(async () => {
    testDb = await engine.createDatabase()
    handle = testDb.open()
    await migrate(handle)
    owner = newId()
    const at = new Date()
    await new AuthRepository(handle.db).insertUser({
      id: owner,
      username: `u-${owner}`,
      passwordHash: 'x',
      role: 'admin',
      disabled: false,
      createdAt: at,
      updatedAt: at,
    })
    repo = new SchedulerRepository(handle.db, handle.engine)
  })

  afterEach(async () => {
    await handle.close()
    await testDb.drop()
  })

  async function dueTask(dueAt: Date): Promise<Task> {
    const now = new Date()
    const task: Task = {
      id: newId(),
      name: 't',
      description: null,
      schedule: '* * * * * *',
      timezone: 'UTC',
      action: 'api',
      payload: { url: 'http://127.0.0.1:9/old' },
      enabled: true,
      overlapPolicy: 'allow',
      timeoutMs: null,
      maxRetries: 0,
      retryDelayMs: 0,
      misfireGraceMs: 60_000,
      nextRunAt: dueAt,
      ownerId: owner,
      createdAt: now,
      updatedAt: now,
    }
    await repo.insertTask(task)
    return task
  }

  /** The one run a claim of task starts. */
  function runFor(task: Task): TaskRun {
    return {
      id: newId(),
      taskId: task.id,
      scheduledFor: task.nextRunAt as Date,
      startTime: new Date(),
      endTime: null,
      status: 'running',
      logs: null,
      attempt: 1,
      trigger: 'schedule',
      jobId: null,
      error: null,
      claimedBy: 'test',
      createdAt: new Date(),
    }
  }

  function planFor(task: Task): ClaimPlan {
    const due = task.nextRunAt as Date
    return { expectedDue: due, nextRunAt: nextAfter('* * * * * *', 'UTC', due), runs: [runFor(task)] }
  }

  const plan = (task: Task, _now: Date, _busy: boolean, ready?: ClaimPlan) => ready ?? planFor(task)

  it('claims a task read before its due time, once', async () => {
    const due = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000)
    await dueTask(due)
    const read = await repo.dueBy(new Date(), 10)
    expect(read).toHaveLength(1)
    const prepared = read.map((task) => ({ task, plan: planFor(task) }))
    const first = await repo.claimDue(10, plan, prepared)
    expect(first).toHaveLength(1)
    expect(first[0]?.runs[0]?.status).toBe('running')
    // The same prepared claim again (a second process with the same read) moves nothing.
    const again = await repo.claimDue(
      10,
      plan,
      read.map((task) => ({ task, plan: planFor(task) })),
    )
    expect(again).toEqual([])
    const [task] = read
    if (task === undefined) throw new Error('no due task was read')
    const stored = await repo.getTask(task.id)
    expect(stored?.nextRunAt?.getTime()).toBe(due.getTime() + 1000)
    const runs = await repo.listRuns({ ownerId: null, taskId: task.id, limit: 10, offset: 0 })
    expect(runs.items.map((r) => r.status)).toEqual(['running'])
  })

  it('leaves a task edited after it was read to the next plain claim, with the edit', async () => {
    const due = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000)
    const task = await dueTask(due)
    const read = await repo.dueBy(new Date(), 10)
    // Edited between the read and the claim: same due time, new payload.
    const edited = {
      ...task,
      payload: { url: 'http://127.0.0.1:9/new' },
      updatedAt: new Date(task.updatedAt.getTime() + 5),
    }
    expect(await repo.updateTask(edited)).toBe(true)
    expect(
      await repo.claimDue(
        10,
        plan,
        read.map((t) => ({ task: t, plan: planFor(t) })),
      ),
    ).toEqual([])
    const plain = await repo.claimDue(10, plan)
    expect(plain).toHaveLength(1)
    expect(plain[0]?.task.payload).toEqual({ url: 'http://127.0.0.1:9/new' })
  })

  describe('reapOrphans', () => {
    const HOST = { hostname: 'bench-host', pid: 1 }
    const beat = (id: string, at: Date) =>
      new InstanceRegistry(handle.db, handle.engine).heartbeat(id, at, HOST)
    const instances = async () =>
      (await sql<{ id: string }>`select id from nodes`.execute(handle.db)).rows.map((r) => r.id).sort()

    let attempt = 0
    async function runOf(task: Task, status: 'running' | 'pending', claimedBy: string | null) {
      // Distinct attempts: UNIQUE (task_id, scheduled_for, attempt).
      const run = { ...runFor(task), id: newId(), status, claimedBy, attempt: ++attempt }
      await repo.insertRun(run)
      return run.id
    }

    it('with every process alive, ends nothing and keeps every row', async () => {
      const now = new Date()
      await beat('self', now)
      await beat('peer', now)
      const task = await dueTask(new Date(Date.now() + 60_000))
      const running = await runOf(task, 'running', 'peer')
      const result = await repo.reapOrphans('self', new Date(now.getTime() - 20_000), now)
      expect(result).toEqual({ failed: 0, skipped: 0, peers: 1, failedRuns: [] })
      expect((await repo.runStatuses([running])).get(running)).toBe('running')
      expect(await instances()).toEqual(['peer', 'self'])
    })

    it('ends the runs of a silent process and of no process, and drops its row', async () => {
      const now = new Date()
      await beat('self', now)
      await beat('gone', new Date(now.getTime() - 60_000))
      const task = await dueTask(new Date(Date.now() + 60_000))
      const running = await runOf(task, 'running', 'gone')
      const pending = await runOf(task, 'pending', 'gone')
      const unclaimed = await runOf(task, 'running', null)
      const mine = await runOf(task, 'running', 'self')
      const result = await repo.reapOrphans('self', new Date(now.getTime() - 20_000), now)
      expect(result).toMatchObject({ failed: 2, skipped: 1, peers: 0 })
      expect(result.failedRuns.map((r) => r.id).sort()).toEqual([running, unclaimed].sort())
      const statuses = await repo.runStatuses([running, pending, unclaimed, mine])
      expect([running, pending, unclaimed, mine].map((id) => statuses.get(id))).toEqual([
        'failed',
        'skipped',
        'failed',
        'running',
      ])
      expect(await instances()).toEqual(['self'])
    })

    it('ends runs whose process left no row at all, with every row fresh', async () => {
      // A peer removed for a dead pid, or one that stopped while a run outlived its stop.
      const now = new Date()
      await beat('self', now)
      const task = await dueTask(new Date(Date.now() + 60_000))
      const ghost = await runOf(task, 'running', 'removed-peer')
      const unclaimed = await runOf(task, 'pending', null)
      expect(await repo.reapOrphans('self', new Date(now.getTime() - 20_000), now)).toMatchObject({
        failed: 1,
        skipped: 1,
        peers: 0,
      })
      const statuses = await repo.runStatuses([ghost, unclaimed])
      expect([statuses.get(ghost), statuses.get(unclaimed)]).toEqual(['failed', 'skipped'])
      expect(await instances()).toEqual(['self'])
    })

    it('ends the runs of a cluster node as soon as its membership lapsed, though it beat recently', async () => {
      const now = new Date()
      await beat('self', now)
      await beat('lost', now)
      await beat('alive', now)
      // Cluster rows carry expires_at (src/cluster/membership.ts): one lapsed a moment ago, one is fresh.
      await sql`update nodes set expires_at = ${toDbTime(new Date(now.getTime() - 1000))} where id = 'lost'`.execute(
        handle.db,
      )
      await sql`update nodes set expires_at = ${toDbTime(new Date(now.getTime() + 60_000))} where id = 'alive'`.execute(
        handle.db,
      )
      const task = await dueTask(new Date(Date.now() + 60_000))
      const lost = await runOf(task, 'running', 'lost')
      const alive = await runOf(task, 'running', 'alive')
      // A run of the lost node no longer makes the task busy for the overlap check.
      expect(await repo.tasksRunning([task.id])).toEqual(new Set([task.id]))
      await sql`update task_runs set status = 'success' where id = ${alive}`.execute(handle.db)
      expect(await repo.tasksRunning([task.id])).toEqual(new Set())
      await sql`update task_runs set status = 'running' where id = ${alive}`.execute(handle.db)
      const result = await repo.reapOrphans('self', new Date(now.getTime() - 20_000), now)
      expect(result).toMatchObject({ failed: 1, skipped: 0 })
      expect(result.failedRuns).toEqual([
        { id: lost, taskId: task.id, attempt: expect.any(Number), scheduledFor: expect.any(Date) },
      ])
      const statuses = await repo.runStatuses([lost, alive])
      expect([statuses.get(lost), statuses.get(alive)]).toEqual(['failed', 'running'])
    })

    it('drops the row of a silent process that left no runs', async () => {
      const now = new Date()
      await beat('self', now)
      await beat('gone', new Date(now.getTime() - 60_000))
      expect(await repo.reapOrphans('self', new Date(now.getTime() - 20_000), now)).toEqual({
        failed: 0,
        skipped: 0,
        peers: 0,
        failedRuns: [],
      })
      expect(await instances()).toEqual(['self'])
    })
  })

  describe('history retention', () => {
    const DAY = 86_400_000
    const now = Date.parse('2026-06-01T12:00:00Z')
    let jobsRepo: JobsRepository

    beforeEach(() => {
      jobsRepo = new JobsRepository(handle.db, handle.engine)
    })

    let attempt = 0
    async function runAt(task: Task, status: TaskRun['status'], ageDays: number) {
      const at = new Date(now - ageDays * DAY)
      const run = {
        ...runFor(task),
        id: newId(),
        status,
        createdAt: at,
        scheduledFor: at,
        attempt: ++attempt,
      }
      await repo.insertRun(run)
      return run.id
    }
    async function jobAt(type: string, status: Job['status'], ageDays: number) {
      const at = new Date(now - ageDays * DAY)
      const job: Job = {
        id: newId(),
        name: type,
        type,
        status,
        progress: 0,
        ownerId: owner,
        logs: null,
        details: null,
        error: null,
        createdAt: at,
        updatedAt: at,
        startedAt: at,
        finishedAt: status === 'running' ? null : at,
        checkpoint: null,
        restartOf: null,
        startedBy: null,
      }
      await jobsRepo.insert(job)
      return job.id
    }

    it('deletes finished runs and task.run jobs past the retention, in batches, and nothing else', async () => {
      const a = await dueTask(new Date(now + 60_000))
      const b = await dueTask(new Date(now + 60_000))
      const oldA = [
        await runAt(a, 'success', 10),
        await runAt(a, 'failed', 9),
        await runAt(a, 'skipped', 8),
        await runAt(a, 'cancelled', 8),
        await runAt(a, 'success', 8),
      ]
      const oldB = await runAt(b, 'success', 30)
      const recent = await runAt(b, 'success', 2)
      const kept = [await runAt(a, 'running', 10), await runAt(a, 'pending', 10), recent]
      const oldJobs = [
        await jobAt('task.run', 'completed', 10),
        await jobAt('task.run', 'failed', 9),
        await jobAt('task.run', 'cancelled', 8),
      ]
      const keptJobs = [
        await jobAt('task.run', 'running', 10),
        await jobAt('task.run', 'completed', 2),
        await jobAt('device.file', 'completed', 10),
      ]
      // A kept run linked to an old job (its job outlived by the run): the job goes, the run stays unlinked.
      const [, oldFailedJob] = oldJobs
      if (oldFailedJob === undefined) throw new Error('the old jobs were not made')
      await repo.setJob(recent, oldFailedJob)

      const retention = new HistoryRetention({
        repo,
        jobs: jobsRepo,
        days: 7,
        batch: 2,
        logger: silentLogger,
        now: () => now,
      })
      expect(await retention.prune()).toEqual({ runs: 6, jobs: 3 })

      const statuses = await repo.runStatuses([...oldA, oldB, ...kept])
      expect([...oldA, oldB].filter((id) => statuses.has(id))).toEqual([])
      expect(kept.map((id) => statuses.get(id))).toEqual(['running', 'pending', 'success'])
      for (const id of oldJobs) expect(await jobsRepo.get(id)).toBeUndefined()
      for (const id of keptJobs) expect(await jobsRepo.get(id)).toBeDefined()
      expect((await repo.getRun(recent))?.jobId).toBeNull()
      // A second pass finds nothing more.
      expect(await retention.prune()).toEqual({ runs: 0, jobs: 0 })
    })
  })
})
