import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import type { JobsService } from '../../../src/modules/jobs/service.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'

function jobsOf(t: TestApp): JobsService {
  const area = t.app.myntrix.areas.find((a) => a.name === 'jobs') as unknown as { service: JobsService }
  return area.service
}

describe.each(testEngines())('jobs API on $name', (engine) => {
  let t: TestApp
  let jobs: JobsService

  beforeEach(async () => {
    t = await createTestApp(engine)
    jobs = jobsOf(t)
  })
  afterEach(async () => {
    await t.dispose()
  })

  it('requires authentication', async () => {
    expect((await t.request('GET', '/api/myntrix/jobs')).status).toBe(401)
  })

  it('lists active and recently finished jobs by default, active first, with X-Total-Count', async () => {
    const done = await jobs.create({
      name: 'done',
      type: 'device.upload',
      ownerId: t.operator.id,
      running: true,
    })
    await jobs.complete(done.id)
    const running = await jobs.create({
      name: 'running',
      type: 'task.run',
      ownerId: t.operator.id,
      running: true,
    })
    const pending = await jobs.create({ name: 'pending', type: 'task.run', ownerId: t.operator.id })
    // Finished two days ago: not "recent".
    await jobs.repository.insert({
      ...done,
      id: '0190a000-0000-7000-8000-000000000001',
      name: 'old',
      status: 'completed',
      createdAt: new Date(Date.now() - 2 * 86_400_000),
      updatedAt: new Date(Date.now() - 2 * 86_400_000),
    })
    const res = await t.request('GET', '/api/myntrix/jobs', { as: t.operator })
    expect(res.status).toBe(200)
    expect(res.body.map((j: { name: string }) => j.name)).toEqual(['pending', 'running', 'done'])
    expect(res.headers['x-total-count']).toBe('3')
    expect(res.body[0]).toMatchObject({ id: pending.id, status: 'pending', progress: 0, startedAt: null })
    expect(res.body[0].logs).toBeUndefined()
    expect(res.body[1].createdAt).toMatch(/Z$/)
    expect(res.body.find((j: { id: string }) => j.id === running.id).status).toBe('running')

    const all = await t.request('GET', '/api/myntrix/jobs?status=completed', { as: t.operator })
    expect(all.body.map((j: { name: string }) => j.name).sort()).toEqual(['done', 'old'])
  })

  it('filters by status (repeated or comma-separated), type, since; pages with limit/offset', async () => {
    const a = await jobs.create({ name: 'a', type: 'device.upload', ownerId: t.operator.id, running: true })
    await jobs.create({ name: 'b', type: 'task.run', ownerId: t.operator.id })
    const c = await jobs.create({ name: 'c', type: 'task.run', ownerId: t.operator.id, running: true })
    await jobs.fail(c.id, 'boom')
    const names = async (qs: string) =>
      (await t.request('GET', `/api/myntrix/jobs?${qs}`, { as: t.operator })).body
        .map((j: { name: string }) => j.name)
        .sort()
    expect(await names('status=running')).toEqual(['a'])
    expect(await names('status=running&status=failed')).toEqual(['a', 'c'])
    expect(await names('status=pending,failed')).toEqual(['b', 'c'])
    expect(await names('type=task.run')).toEqual(['b', 'c'])
    expect(await names(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual(
      [],
    )
    expect(await names(`since=${encodeURIComponent(a.createdAt.toISOString())}`)).toEqual(['a', 'b', 'c'])
    const page = await t.request('GET', '/api/myntrix/jobs?limit=1&offset=1', { as: t.operator })
    expect(page.body).toHaveLength(1)
    expect(page.headers['x-total-count']).toBe('3')
  })

  it.each([
    ['status=done', 'query.status'],
    ['status=running,bogus', 'query.status'],
    ['since=yesterday', 'query.since'],
    ['since=2025-13-99T00:00:00Z', 'query.since'],
    ['limit=0', 'query.limit'],
    ['limit=5000', 'query.limit'],
    ['offset=-1', 'query.offset'],
  ])('answers 400 for %s', async (qs, path) => {
    const res = await t.request('GET', `/api/myntrix/jobs?${qs}`, { as: t.operator })
    expect(res.status).toBe(400)
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path)
  })

  it("shows non-admins their own and system jobs only; another owner's job is 404", async () => {
    const mine = await jobs.create({ name: 'mine', type: 't', ownerId: t.operator.id, running: true })
    const theirs = await jobs.create({ name: 'theirs', type: 't', ownerId: t.operator2.id, running: true })
    const system = await jobs.create({ name: 'system', type: 't', running: true })
    const list = await t.request('GET', '/api/myntrix/jobs', { as: t.operator })
    expect(list.body.map((j: { name: string }) => j.name).sort()).toEqual(['mine', 'system'])
    expect((await t.request('GET', `/api/myntrix/jobs/${theirs.id}`, { as: t.operator })).status).toBe(404)
    expect((await t.request('GET', `/api/myntrix/jobs/${system.id}`, { as: t.viewer })).status).toBe(200)
    expect(
      (await t.request('POST', `/api/myntrix/jobs/${theirs.id}/cancel`, { as: t.operator })).status,
    ).toBe(404)
    const admin = await t.request('GET', '/api/myntrix/jobs', { as: t.admin })
    expect(admin.body).toHaveLength(3)
    expect((await t.request('GET', `/api/myntrix/jobs/${mine.id}`, { as: t.admin })).status).toBe(200)
  })

  it('returns one job with its logs; unknown id is 404', async () => {
    const job = await jobs.create({ name: 'x', type: 't', ownerId: t.operator.id, running: true })
    await jobs.appendLog(job.id, 'sent 10 lines')
    const res = await t.request('GET', `/api/myntrix/jobs/${job.id}`, { as: t.operator })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: job.id, logs: 'sent 10 lines\n', status: 'running' })
    const missing = await t.request('GET', '/api/myntrix/jobs/nope', { as: t.operator })
    expect(missing.status).toBe(404)
    expect(missing.body).toMatchObject({ status: 404, title: expect.any(String) })
  })

  it('cancels through the owning handler; a finished job is 409; viewers 403; system jobs admin-only', async () => {
    const stopped: string[] = []
    const job = await jobs.create({
      name: 'x',
      type: 't',
      ownerId: t.operator.id,
      running: true,
      onCancel: (j) => {
        stopped.push(j.id)
      },
    })
    expect((await t.request('POST', `/api/myntrix/jobs/${job.id}/cancel`, { as: t.viewer })).status).toBe(403)
    const res = await t.request('POST', `/api/myntrix/jobs/${job.id}/cancel`, { as: t.operator })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'cancelled', error: 'cancelled by operator' })
    expect(stopped).toEqual([job.id])
    const again = await t.request('POST', `/api/myntrix/jobs/${job.id}/cancel`, { as: t.operator })
    expect(again.status).toBe(409)
    expect(again.body.detail).toMatch(/already cancelled/)

    const system = await jobs.create({ name: 's', type: 't', running: true })
    expect((await t.request('POST', `/api/myntrix/jobs/${system.id}/cancel`, { as: t.viewer })).status).toBe(
      403,
    )
    expect(
      (await t.request('POST', `/api/myntrix/jobs/${system.id}/cancel`, { as: t.operator })).status,
    ).toBe(403)
    expect((await t.request('POST', `/api/myntrix/jobs/${system.id}/cancel`, { as: t.admin })).status).toBe(
      200,
    )
    expect((await t.request('POST', '/api/myntrix/jobs/nope/cancel', { as: t.admin })).status).toBe(404)
  })

  it('marks jobs left running as failed when the server starts again', async () => {
    const job = await jobs.create({ name: 'x', type: 't', ownerId: t.operator.id, running: true })
    await t.close()
    t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false })
    const res = await t.request('GET', `/api/myntrix/jobs/${job.id}`, { as: t.operator })
    expect(res.body).toMatchObject({ status: 'failed', error: expect.stringMatching(/server stopped/) })
    expect(res.body.finishedAt).toMatch(/Z$/)
  })

  describe('live feed /ws/myntrix/jobs', () => {
    const sockets: WebSocket[] = []
    afterEach(() => {
      for (const s of sockets.splice(0)) s.terminate()
    })

    async function connect(token: string | null) {
      const messages: Array<Record<string, any>> = []
      const waiters: Array<() => void> = []
      const ws = await t.app.injectWS(
        '/ws/myntrix/jobs',
        token ? { headers: { authorization: `Bearer ${token}` } } : {},
        {
          onInit: (socket) =>
            socket.on('message', (data) => {
              messages.push(JSON.parse(String(data)))
              for (const w of waiters.splice(0)) w()
            }),
        },
      )
      sockets.push(ws)
      const waitFor = async (match: (m: Record<string, any>) => boolean) => {
        for (;;) {
          const found = messages.find(match)
          if (found) return found
          await new Promise<void>((resolve) => waiters.push(resolve))
        }
      }
      return { ws, messages, waitFor }
    }

    it('sends a snapshot of active jobs, then each change the caller may see', async () => {
      const before = await jobs.create({ name: 'before', type: 't', ownerId: t.operator.id, running: true })
      const client = await connect(t.operator.token)
      const snapshot = await client.waitFor((m) => m.type === 'snapshot')
      expect(snapshot.payload.jobs.map((j: { id: string }) => j.id)).toEqual([before.id])
      expect(snapshot.ts).toMatch(/Z$/)

      await jobs.create({ name: 'hidden', type: 't', ownerId: t.operator2.id, running: true })
      const mine = await jobs.create({ name: 'mine', type: 't', ownerId: t.operator.id, running: true })
      await jobs.complete(mine.id)
      const done = await client.waitFor((m) => m.type === 'job' && m.payload.status === 'completed')
      expect(done).toMatchObject({ jobId: mine.id, payload: { id: mine.id, progress: 100 } })
      expect(client.messages.some((m) => m.payload?.name === 'hidden')).toBe(false)
    })

    it('refuses a connection without a token', async () => {
      await expect(connect(null)).rejects.toThrow()
    })
  })
})
