// An idle engine sleeps until its next due time and nothing else: it does not
// poll and writes no heartbeat, yet it still acts at once on another process's
// edit (through the database's change feed) and still ends the runs of a peer
// that dies while it idles. Real apps, real time, both engines.

import os from 'node:os'
import { sql } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../../../src/db/ids.js'
import type { DatabaseHandle } from '../../../src/db/index.js'
import { nextAfter } from '../../../src/modules/scheduler/cron.js'
import type { SchedulerArea } from '../../../src/modules/scheduler/index.js'
import { SchedulerRepository } from '../../../src/modules/scheduler/repository.js'
import { InstanceRegistry } from '../../../src/process/liveness.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { startTarget, watchRuns } from './helpers.js'

// Every interval short, so that a polling engine would show within the waits below.
const ENV = { MYNTRIX_SCHEDULER_MAX_SLEEP_MS: '100', MYNTRIX_SCHEDULER_HEARTBEAT_MS: '150' }

describe.each(testEngines())('an idle scheduler engine on $name', (engine) => {
  let target: Awaited<ReturnType<typeof startTarget>>
  let t: TestApp
  let other: DatabaseHandle

  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target.close()
  })
  afterEach(async () => {
    await other?.close()
    await t?.dispose()
  })

  async function start(env: Record<string, string> = {}) {
    t = await createTestApp(engine, { env: { ...ENV, MYNTRIX_OUTBOUND_ALLOW: target.allow, ...env } })
    // Another process's connection to the same database.
    other = t.testDb.open()
    const area = t.app.myntrix.areas.find((a) => a.name === 'scheduler') as SchedulerArea
    // Count the engine's look for the next due time: one per wake-up.
    const repo = (area.engine as unknown as { repo: SchedulerRepository }).repo
    const counts = { wakes: 0 }
    const earliestDue = repo.earliestDue.bind(repo)
    repo.earliestDue = () => {
      counts.wakes++
      return earliestDue()
    }
    return { engine: area.engine, counts }
  }

  const instanceRows = async () =>
    (await sql<{ id: string }>`select id from nodes`.execute(other.db)).rows.map((r) => r.id)

  /** Inserts a task as another process would, and announces it as the service does. */
  async function insertTaskElsewhere(schedule: string, path: string) {
    const repo = new SchedulerRepository(other.db, other.engine)
    const now = new Date()
    const id = newId()
    await repo.insertTask({
      id,
      name: `from another process ${path}`,
      description: null,
      schedule,
      timezone: 'UTC',
      action: 'api',
      payload: { url: `${target.base}${path}` },
      enabled: true,
      overlapPolicy: 'skip',
      timeoutMs: null,
      maxRetries: 0,
      retryDelayMs: 0,
      misfireGraceMs: 0,
      nextRunAt: nextAfter(schedule, 'UTC', now),
      ownerId: t.operator.id,
      createdAt: now,
      updatedAt: now,
    })
    await repo.announceChange()
    return id
  }

  it('with nothing due soon, neither wakes nor writes a heartbeat', async () => {
    const { engine: e, counts } = await start()
    const res = await t.request('POST', '/api/myntrix/tasks', {
      as: t.operator,
      body: { name: 'yearly', schedule: '@yearly', action: 'api', payload: { url: `${target.base}/y` } },
    })
    expect(res.status).toBe(201)
    // The create wakes the engine once; let that wake-up end.
    await new Promise((r) => setTimeout(r, 300))
    const before = counts.wakes
    // Ten times the poll interval and heartbeat an engine with work would use.
    await new Promise((r) => setTimeout(r, 1500))
    expect(counts.wakes).toBe(before)
    expect(await instanceRows()).not.toContain(e.instanceId)
  })

  it('fires a task another process added, at once, without polling for it', async () => {
    // A minute between looks, were the engine to poll: only the change feed can wake it in time.
    await start({ MYNTRIX_SCHEDULER_MAX_SLEEP_MS: '60000', MYNTRIX_SCHEDULER_HEARTBEAT_MS: '60000' })
    const runs = watchRuns(t)
    await new Promise((r) => setTimeout(r, 300))
    const id = await insertTaskElsewhere('* * * * * *', '/elsewhere')
    await runs.waitFor(() => runs.of(id, 'success').length >= 1, "the other process's task to fire", 5000)
    expect(target.hits.get('/elsewhere')).toBeGreaterThanOrEqual(1)
    runs.off()
  })

  it('ends the runs of a peer that dies while this engine idles', async () => {
    await start()
    await new Promise((r) => setTimeout(r, 300))
    const taskId = await insertTaskElsewhere('@yearly', '/peer')
    // A peer on another host comes alive (registering wakes this engine), claims a run, and goes silent.
    await new InstanceRegistry(other.db, other.engine).heartbeat('peer-that-dies', new Date(), {
      hostname: `${os.hostname()}-elsewhere`,
      pid: 1,
    })
    const runId = newId()
    const now = new Date()
    await new SchedulerRepository(other.db, other.engine).insertRun({
      id: runId,
      taskId,
      scheduledFor: now,
      startTime: now,
      endTime: null,
      status: 'running',
      logs: null,
      attempt: 1,
      trigger: 'schedule',
      jobId: null,
      error: null,
      claimedBy: 'peer-that-dies',
      createdAt: now,
    })
    // Silent for 4 heartbeats (600 ms) is dead: its run is ended without any wake-up of ours being due.
    const ended = await waitFor(
      async () => {
        const s = (await new SchedulerRepository(other.db, other.engine).runStatuses([runId])).get(runId)
        return s === 'failed' ? s : null
      },
      { timeoutMs: 5000, what: "the dead peer's run to be failed" },
    )
    expect(ended).toBe('failed')
    // Its row goes by the reaper's next statement, after the run's update has committed.
    await waitFor(async () => !(await instanceRows()).includes('peer-that-dies'), {
      timeoutMs: 2000,
      what: "the dead peer's row to be removed",
    })
  })
})
