// The engine in real time through the real app, on every engine: firing,
// edits, deletes, timeouts, overlap, retries, misfires after downtime,
// recovery after a crash, and two processes sharing one database.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { isAlive, waitFor } from '../../helpers/processes.js'
import { fixture } from './actions/helpers.js'
import { startTarget, watchRuns } from './helpers.js'

const API = '/api/myntrix/tasks'
const ENV = { MYNTRIX_SCHEDULER_MAX_SLEEP_MS: '300', MYNTRIX_SCHEDULER_HEARTBEAT_MS: '500' }

interface Run {
  id: string
  taskId: string
  status: string
  scheduledFor: string | null
  startTime: string | null
  endTime: string | null
  attempt: number
  trigger: string
  error: string | null
  logs: string | null
}

describe.each(testEngines())('scheduler engine on $name', (engine) => {
  let target: Awaited<ReturnType<typeof startTarget>>
  const apps: TestApp[] = []
  const strays: number[] = []

  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target.close()
  })
  afterEach(async () => {
    const closing = apps.splice(0).reverse()
    for (const t of closing) await t.close()
    // Drop each database once (two apps may share one).
    for (const db of new Set(closing.map((t) => t.testDb))) await db.drop()
    for (const pid of strays.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
  })

  async function app(options: Parameters<typeof createTestApp>[1] = {}) {
    const t = await createTestApp(engine, {
      ...options,
      env: { ...ENV, MYNTRIX_OUTBOUND_ALLOW: target.allow, ...options.env },
    })
    apps.push(t)
    return t
  }

  const create = async (t: TestApp, body: Record<string, unknown>, as = t.operator) => {
    const res = await t.request('POST', API, { as, body: { name: 'task', ...body } })
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`)
    return res.body as { id: string; nextRun: string | null }
  }
  const history = async (t: TestApp, taskId: string): Promise<Run[]> =>
    (await t.request('GET', `${API}/${taskId}/history?limit=1000`, { as: t.admin })).body
  const ping = (path: string) => ({ action: 'api', payload: { url: `${target.base}${path}` } })

  it('a * * * * * * task fires about once per second, each occurrence once', async () => {
    const t = await app()
    const runs = watchRuns(t)
    const task = await create(t, { schedule: '* * * * * *', ...ping('/every-second') })
    await runs.waitFor(() => runs.of(task.id, 'success').length >= 3, '3 successful runs')
    await t.request('PUT', `${API}/${task.id}`, { as: t.operator, body: { enabled: false } })
    const done = (await history(t, task.id)).filter((r) => r.status === 'success')
    const due = done.map((r) => Date.parse(r.scheduledFor as string)).sort((a, b) => a - b)
    expect(new Set(due).size).toBe(due.length)
    for (const [i, at] of due.slice(1).entries()) expect(at - (due[i] ?? Number.NaN)).toBe(1000)
    for (const r of done) {
      expect(r.trigger).toBe('schedule')
      // Started at or after its due time, never before.
      expect(Date.parse(r.startTime as string)).toBeGreaterThanOrEqual(Date.parse(r.scheduledFor as string))
    }
    runs.off()
  })

  it('a disabled task never fires while an enabled one does', async () => {
    const t = await app()
    const runs = watchRuns(t)
    const off = await create(t, { schedule: '* * * * * *', enabled: false, ...ping('/disabled') })
    const on = await create(t, { schedule: '* * * * * *', ...ping('/enabled') })
    expect(off.nextRun).toBeNull()
    await runs.waitFor(() => runs.of(on.id, 'success').length >= 2, 'the enabled task to fire twice')
    expect(runs.of(off.id)).toEqual([])
    expect(target.hits.get('/disabled')).toBeUndefined()
    runs.off()
  })

  it('a schedule change takes effect at once; delete stops future firings', async () => {
    const t = await app()
    const runs = watchRuns(t)
    const task = await create(t, { schedule: '0 0 1 1 *', ...ping('/retimed') })
    const clock = await create(t, { schedule: '* * * * * *', ...ping('/clock') })
    const res = await t.request('PUT', `${API}/${task.id}`, {
      as: t.operator,
      body: { schedule: '* * * * * *' },
    })
    expect(Date.parse(res.body.nextRun) - Date.now()).toBeLessThanOrEqual(1000)
    await runs.waitFor(() => runs.of(task.id, 'success').length >= 1, 'the retimed task to fire')

    expect((await t.request('DELETE', `${API}/${task.id}`, { as: t.operator })).status).toBe(200)
    const after = runs.events.length
    const clockBefore = runs.of(clock.id, 'success').length
    // The other per-second task is the clock: three more of its firings, none of the deleted one.
    await runs.waitFor(
      () => runs.of(clock.id, 'success').length >= clockBefore + 3,
      'three more clock firings',
    )
    expect(runs.events.slice(after).filter((e) => e.taskId === task.id && e.status !== 'cancelled')).toEqual(
      [],
    )
    runs.off()
  })

  it('a timeout kills a sleeping script and its child', async () => {
    const t = await app()
    const runs = watchRuns(t)
    const task = await create(
      t,
      {
        schedule: '@yearly',
        action: 'script',
        payload: { command: [fixture('spawns-sleeping-child.sh')] },
        timeoutMs: 400,
      },
      t.admin,
    )
    const run = (await t.request('POST', `${API}/${task.id}/run`, { as: t.admin })).body
    await runs.waitFor(() => runs.of(task.id, 'failed').length === 1, 'the run to time out')
    const full: Run = (await t.request('GET', `${API}/runs/${run.id}`, { as: t.admin })).body
    expect(full.status).toBe('failed')
    expect(full.error).toContain('timed out after 400 ms')
    const child = Number(/child (\d+)/.exec(full.logs ?? '')?.[1])
    expect(child).toBeGreaterThan(0)
    strays.push(child)
    await waitFor(() => !isAlive(child), { timeoutMs: 3000, what: 'the sleeping child to die' })
    runs.off()
  })

  it('overlap skip: an occurrence due while the previous run is still running is skipped', async () => {
    const t = await app()
    const runs = watchRuns(t)
    const task = await create(t, {
      schedule: '* * * * * *',
      ...ping('/slow'),
      overlapPolicy: 'skip',
      timeoutMs: 5000,
    })
    await runs.waitFor(() => runs.of(task.id, 'skipped').length >= 1, 'a skipped occurrence')
    await t.request('DELETE', `${API}/${task.id}`, { as: t.operator })
    expect(runs.of(task.id, 'running').length).toBe(1)
    runs.off()
  })

  it('overlap queue: the next occurrence waits for the running one, then runs', async () => {
    const t = await app()
    const runs = watchRuns(t)
    const task = await create(t, {
      schedule: '* * * * * *',
      ...ping('/slow'),
      overlapPolicy: 'queue',
      timeoutMs: 1300,
    })
    await runs.waitFor(
      () => runs.of(task.id, 'failed').length >= 2,
      'two runs to time out one after the other',
    )
    await t.request('PUT', `${API}/${task.id}`, { as: t.operator, body: { enabled: false } })
    const done = (await history(t, task.id)).filter((r) => r.status === 'failed').reverse()
    expect(runs.of(task.id, 'skipped')).toEqual([])
    expect(Date.parse(done[1]?.startTime as string)).toBeGreaterThanOrEqual(
      Date.parse(done[0]?.endTime as string),
    )
    runs.off()
  })

  it('retries a failed run up to maxRetries, after retryDelayMs', async () => {
    const t = await app()
    const runs = watchRuns(t)
    const task = await create(t, {
      schedule: '@yearly',
      ...ping('/status/500'),
      maxRetries: 2,
      retryDelayMs: 50,
    })
    await t.request('POST', `${API}/${task.id}/run`, { as: t.operator })
    await runs.waitFor(() => runs.of(task.id, 'failed').length === 3, 'three failed attempts')
    const all = (await history(t, task.id)).reverse()
    expect(all.map((r) => [r.attempt, r.trigger, r.status])).toEqual([
      [1, 'manual', 'failed'],
      [2, 'retry', 'failed'],
      [3, 'retry', 'failed'],
    ])
    runs.off()
  })

  it('after downtime: a missed occurrence within the grace fires once, older ones are recorded skipped', async () => {
    const first = await app()
    const outside = await create(first, {
      schedule: '* * * * * *',
      ...ping('/misfire-old'),
      misfireGraceMs: 2000,
    })
    const inside = await create(first, {
      schedule: '* * * * * *',
      ...ping('/misfire-new'),
      misfireGraceMs: 60_000,
    })
    const testDb = first.testDb
    await first.close()
    // Simulated downtime: the stored next runs are 10 s in the past.
    const downSince = new Date(Math.floor(Date.now() / 1000) * 1000 - 10_000)
    const handle = testDb.open()
    await handle.db
      .updateTable('scheduledTasks')
      .set({ nextRunAt: downSince.toISOString() })
      .where('id', 'in', [outside.id, inside.id])
      .execute()
    await handle.close()

    const second = await app({ testDb, seedUsers: false })
    const runs = watchRuns(second)
    const restartedAt = Date.now()
    await runs.waitFor(
      () => runs.of(outside.id, 'success').length >= 1 && runs.of(inside.id, 'success').length >= 1,
      'both tasks to fire after the restart',
    )
    await second.request('PUT', `${API}/${outside.id}`, { as: second.operator, body: { enabled: false } })
    await second.request('PUT', `${API}/${inside.id}`, { as: second.operator, body: { enabled: false } })

    for (const [task, word] of [
      [outside, 'missed'],
      [inside, 'coalesced'],
    ] as const) {
      const all = await history(second, task.id)
      // Other skips have their own occurrences and reasons: a run claimed just before the first app
      // stopped, or an occurrence that overlapped a slow run on a loaded machine. The downtime's
      // missed occurrences are recorded exactly once, under the first of them.
      const skipped = all.filter((r) => r.status === 'skipped' && r.scheduledFor === downSince.toISOString())
      expect(skipped).toHaveLength(1)
      expect(skipped[0]?.scheduledFor).toBe(downSince.toISOString())
      expect(skipped[0]?.error).toContain(word)
      // One catch-up firing for the whole downtime: nothing fired for the occurrences in between.
      const fired = all.filter((r) => r.status !== 'skipped' && r.status !== 'cancelled')
      const catchUp = fired.filter((r) => Date.parse(r.scheduledFor as string) < restartedAt - 1000)
      expect(catchUp.length).toBeLessThanOrEqual(1)
    }
    runs.off()
  })

  it('runs left running or pending by a dead process are marked failed/skipped at start-up', async () => {
    const first = await app()
    const task = await create(first, { schedule: '@yearly', ...ping('/x') })
    const testDb = first.testDb
    await first.close()
    const handle = testDb.open()
    const now = new Date().toISOString()
    const row = (id: string, status: string, attempt: number) => ({
      id,
      taskId: task.id,
      scheduledFor: now,
      startTime: status === 'running' ? now : null,
      status,
      attempt,
      trigger: 'schedule',
      createdAt: now,
      claimedBy: 'a-process-that-died',
    })
    await handle.db
      .insertInto('taskRuns')
      .values([
        row('00000000-0000-7000-8000-000000000001', 'running', 1),
        row('00000000-0000-7000-8000-000000000002', 'pending', 2),
      ] as never)
      .execute()
    await handle.close()

    const second = await app({ testDb, seedUsers: false })
    const all = await history(second, task.id)
    const byId = new Map(all.map((r) => [r.id, r]))
    expect(byId.get('00000000-0000-7000-8000-000000000001')).toMatchObject({ status: 'failed' })
    expect(byId.get('00000000-0000-7000-8000-000000000001')?.error).toContain('stopped during the run')
    expect(byId.get('00000000-0000-7000-8000-000000000002')).toMatchObject({ status: 'skipped' })
  })

  it('two processes on one database fire each occurrence exactly once over 20 s', {
    timeout: 60_000,
  }, async () => {
    const a = await app()
    const b = await app({ testDb: a.testDb, seedUsers: false })
    const runsA = watchRuns(a)
    const runsB = watchRuns(b)
    const tasks = []
    for (const i of [1, 2, 3]) tasks.push(await create(a, { schedule: '* * * * * *', ...ping(`/once/${i}`) }))
    const ids = new Set(tasks.map((x) => x.id))
    const successes = () =>
      [...runsA.events, ...runsB.events].filter((e) => ids.has(e.taskId) && e.status === 'success').length
    const start = Date.now()
    await runsA
      .waitFor(() => successes() >= 60 && Date.now() - start >= 20_000, '20 s of firings', 45_000)
      .catch(async () => runsB.waitFor(() => successes() >= 60, '60 firings', 5_000))
    for (const x of tasks)
      await a.request('PUT', `${API}/${x.id}`, { as: a.operator, body: { enabled: false } })
    // A run that reached the target just before the tasks were disabled is still being recorded:
    // compare hits with successes once nothing is in flight.
    const events = () => [...runsA.events, ...runsB.events].filter((e) => ids.has(e.taskId))
    const inFlight = () => {
      const open = new Set(
        events()
          .filter((e) => e.status === 'running')
          .map((e) => e.runId),
      )
      for (const e of events()) if (e.status !== 'running' && e.status !== 'pending') open.delete(e.runId)
      return open.size
    }
    // Either process may hold the last run, so poll both event lists rather than wait on one bus.
    await waitFor(() => inFlight() === 0, { what: 'the runs in flight to finish' })

    for (const [i, x] of tasks.entries()) {
      const all = await history(a, x.id)
      const fired = all.filter(
        (r) => r.status === 'success' || r.status === 'running' || r.status === 'failed',
      )
      const slots = fired.map((r) => r.scheduledFor)
      expect(new Set(slots).size).toBe(slots.length)
      expect(fired.length).toBeGreaterThanOrEqual(18)
      // The target saw one request per successful run: no double firing behind the records' back.
      const ok = all.filter((r) => r.status === 'success').length
      expect(target.hits.get(`/once/${i + 1}`)).toBe(ok)
      expect(all.filter((r) => r.status === 'skipped')).toEqual([])
    }
    runsA.off()
    runsB.off()
  })
})
