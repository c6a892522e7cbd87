// The process heartbeat on a real database: written only while work is held,
// renewed before new work is recorded, and held by the jobs ledger for as
// long as a job it created is active.

import { spawn } from 'node:child_process'
import os from 'node:os'
import { sql } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DatabaseHandle, migrate } from '../../src/db/index.js'
import { fromDbTime } from '../../src/db/values.js'
import { EventBus } from '../../src/events/bus.js'
import { JobsService } from '../../src/modules/jobs/service.js'
import { InstanceRegistry, type ProcessLiveness, processLiveness } from '../../src/process/liveness.js'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'

const INTERVAL_MS = 100
// Only for what must NOT happen (no write while idle, no beat after release):
// there is no event to wait for, so the test lets intervals pass and looks.
// What must happen is awaited with waitFor.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.each(testEngines())('process liveness on $name', (engine) => {
  let testDb: TestDatabase
  let handle: DatabaseHandle
  let liveness: ProcessLiveness

  beforeEach(async () => {
    testDb = await engine.createDatabase()
    handle = testDb.open()
    await migrate(handle)
    liveness = processLiveness(new InstanceRegistry(handle.db, handle.engine), 'me', INTERVAL_MS)
  })
  afterEach(async () => {
    await liveness.stop()
    await handle.close()
    await testDb.drop()
  })

  /** This process's last heartbeat (ms), or null without a row. */
  const beatAt = async () => {
    const row = (
      await sql<{
        beat: unknown
      }>`select heartbeat_at as beat from nodes where id = 'me'`.execute(handle.db)
    ).rows[0]
    return row ? (fromDbTime(row.beat) as Date).getTime() : null
  }

  it('writes nothing until work is recorded; ensureFresh registers, then is a no-op while fresh', async () => {
    await sleep(3 * INTERVAL_MS)
    expect(await beatAt()).toBeNull()
    await liveness.ensureFresh()
    const first = await beatAt()
    expect(first).not.toBeNull()
    await liveness.ensureFresh()
    expect(await beatAt()).toBe(first)
    // Nothing held: no timed beats either.
    await sleep(3 * INTERVAL_MS)
    expect(await beatAt()).toBe(first)
  })

  it('beats every interval while held, and stops once every holder has released', async () => {
    const first = liveness.hold()
    const second = liveness.hold()
    await waitFor(async () => (await beatAt()) !== null, { timeoutMs: 5000, what: 'the first beat' })
    const start = (await beatAt()) as number
    first()
    first() // a second release of the same hold must not drop the other holder's
    await waitFor(async () => ((await beatAt()) as number) - start >= 2 * INTERVAL_MS, {
      timeoutMs: 5000,
      what: 'beats two intervals on while one hold remains',
    })
    second()
    // Timed beats go on for one interval after the last release.
    await sleep(3 * INTERVAL_MS)
    const settled = await beatAt()
    await sleep(3 * INTERVAL_MS)
    expect(await beatAt()).toBe(settled)
  })

  it('puts its row back when a peer removed it while this process idled', async () => {
    await liveness.ensureFresh()
    await new InstanceRegistry(handle.db, handle.engine).remove('me')
    await liveness.ensureFresh()
    expect(await beatAt()).toBeNull()
    // Older than two intervals: stale enough to be renewed.
    await sleep(2 * INTERVAL_MS + 10)
    await liveness.ensureFresh()
    expect(await beatAt()).not.toBeNull()
  })

  it('removes its row at a clean stop, after a beat in flight', async () => {
    const release = liveness.hold()
    await liveness.ensureFresh()
    expect(await beatAt()).not.toBeNull()
    await liveness.stop()
    release()
    expect(await beatAt()).toBeNull()
    await sleep(2 * INTERVAL_MS)
    expect(await beatAt()).toBeNull()
  })

  it('after a failed beat, waits before trying again instead of spinning', async () => {
    // A real failure: a database without the table (never migrated).
    const bare = await engine.createDatabase()
    const broken = bare.open()
    const errors: unknown[] = []
    const failing = processLiveness(
      new InstanceRegistry(broken.db, broken.engine),
      'me',
      INTERVAL_MS,
      (err) => errors.push(err),
    )
    const release = failing.hold()
    await sleep(5 * INTERVAL_MS)
    release()
    await failing.stop()
    await broken.close()
    await bare.drop()
    // One try at once, then one an interval apart: about six, never thousands.
    expect(errors.length).toBeGreaterThanOrEqual(2)
    expect(errors.length).toBeLessThanOrEqual(8)
  })

  it('counts a process on this host whose pid is gone as dead, whatever its heartbeat, and fails its jobs', async () => {
    const child = spawn('true')
    await new Promise((r) => child.once('exit', r))
    const registry = new InstanceRegistry(handle.db, handle.engine)
    const now = new Date()
    await registry.heartbeat('dead', now, { hostname: os.hostname(), pid: child.pid as number })
    await registry.heartbeat('alive', now, { hostname: os.hostname(), pid: process.pid })
    await registry.heartbeat('remote', now, {
      hostname: `${os.hostname()}-elsewhere`,
      pid: child.pid as number,
    })
    expect(await registry.deadOnThisHost()).toEqual(['dead'])

    const ledger = (id: string) =>
      new JobsService({ db: handle.db, engine: handle.engine, bus: new EventBus(), instanceId: id })
    const orphan = await ledger('dead').create({ name: 'left behind', type: 'test.work', running: true })
    const kept = await ledger('alive').create({ name: 'in flight', type: 'test.work', running: true })
    expect(await ledger('me').failInterrupted()).toBe(1)
    const jobs = ledger('me')
    expect((await jobs.get(orphan.id))?.status).toBe('failed')
    expect((await jobs.get(kept.id))?.status).toBe('running')
  })

  it('a job keeps the process beating from its creation to its end', async () => {
    const jobs = new JobsService({
      db: handle.db,
      engine: handle.engine,
      bus: new EventBus(),
      instanceId: 'me',
      liveness,
    })
    const job = await jobs.create({ name: 'transfer', type: 'test.work', running: true })
    const created = (await beatAt()) as number
    expect(created).not.toBeNull()
    await waitFor(async () => ((await beatAt()) as number) - created >= 2 * INTERVAL_MS, {
      timeoutMs: 5000,
      what: 'beats two intervals on while the job is active',
    })
    await jobs.complete(job.id)
    await sleep(3 * INTERVAL_MS)
    const ended = await beatAt()
    await sleep(3 * INTERVAL_MS)
    expect(await beatAt()).toBe(ended)
    await jobs.stop()
  })
})
