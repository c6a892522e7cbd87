import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { startTarget, watchRuns } from './helpers.js'

const API = '/api/myntrix/tasks'

describe.each(testEngines())('task routes on $name', (engine) => {
  let t: TestApp
  let target: Awaited<ReturnType<typeof startTarget>>
  let runs: ReturnType<typeof watchRuns>

  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target.close()
  })
  beforeEach(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_OUTBOUND_ALLOW: target.allow } })
    runs = watchRuns(t)
  })
  afterEach(async () => {
    runs.off()
    await t.dispose()
  })

  const apiTask = (over: Record<string, unknown> = {}) => ({
    name: 'ping',
    schedule: '0 0 1 1 *',
    action: 'api',
    payload: { url: `${target.base}/ok` },
    ...over,
  })

  it('creates a task with defaults, nextRun and no lastRun', async () => {
    const res = await t.request('POST', API, { as: t.operator, body: apiTask({ timezone: 'Europe/Berlin' }) })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      name: 'ping',
      schedule: '0 0 1 1 *',
      timezone: 'Europe/Berlin',
      action: 'api',
      payload: { url: `${target.base}/ok` },
      enabled: true,
      overlapPolicy: 'skip',
      timeoutMs: null,
      maxRetries: 0,
      retryDelayMs: 0,
      misfireGraceMs: 60000,
      lastRun: null,
      ownerId: t.operator.id,
    })
    // Midnight of 1 January in Berlin is 23:00 UTC the day before.
    expect(res.body.nextRun).toMatch(/-12-31T23:00:00\.000Z$/)
  })

  it('accepts action as an object {type, ...params}', async () => {
    const res = await t.request('POST', API, {
      as: t.operator,
      body: {
        name: 'obj',
        schedule: '@daily',
        action: { type: 'api', url: `${target.base}/x`, method: 'POST' },
      },
    })
    expect(res.status).toBe(201)
    expect(res.body.action).toBe('api')
    expect(res.body.payload).toEqual({ url: `${target.base}/x`, method: 'POST' })
  })

  describe('bad input answers 400 naming the field', () => {
    const cases: Array<[string, Record<string, unknown>, string, string]> = [
      ['a bad minute', { schedule: '61 * * * *' }, 'schedule', 'minute field: 61 is out of range 0-59'],
      ['too few fields', { schedule: '* * *' }, 'schedule', 'has 3 fields'],
      ['an unknown nickname', { schedule: '@sometimes' }, 'schedule', 'unknown nickname'],
      ['a bad time zone', { timezone: 'Mars/Olympus' }, 'timezone', 'unknown time zone "Mars/Olympus"'],
      [
        'an unknown action',
        { action: 'teleport' },
        'action',
        'must be one of agent, script, api, device, workflow',
      ],
      ['a payload missing its url', { payload: {} }, 'payload.url', 'is required'],
      ['a payload with a bad url', { payload: { url: 'ftp://x' } }, 'payload.url', 'http or https'],
      ['an empty name', { name: ' ' }, 'name', 'non-empty'],
      ['a bad overlap policy', { overlapPolicy: 'sometimes' }, 'overlapPolicy', 'skip, allow, queue'],
      ['a negative retry count', { maxRetries: -1 }, 'maxRetries', 'from 0 to 100'],
      ['a zero timeout', { timeoutMs: 0 }, 'timeoutMs', 'from 1 to'],
      ['a string for enabled', { enabled: 'yes' }, 'enabled', 'true or false'],
    ]
    it.each(cases)('%s', async (_name, over, path, message) => {
      const res = await t.request('POST', API, { as: t.operator, body: apiTask(over) })
      expect(res.status).toBe(400)
      expect(res.headers['content-type']).toContain('application/problem+json')
      const error = res.body.errors.find((e: { path: string }) => e.path === path)
      expect(error?.message).toContain(message)
    })

    it('reports every bad field at once', async () => {
      const res = await t.request('POST', API, {
        as: t.operator,
        body: apiTask({ schedule: '* 25 * * *', timezone: 'Nowhere/City', payload: { url: 5 } }),
      })
      expect(res.status).toBe(400)
      expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
        'payload.url',
        'schedule',
        'timezone',
      ])
    })

    it('missing required fields', async () => {
      const res = await t.request('POST', API, { as: t.operator, body: { name: 'x' } })
      expect(res.status).toBe(400)
    })
  })

  it('script tasks are admin-only; viewers cannot create tasks', async () => {
    const script = { name: 's', schedule: '@daily', action: 'script', payload: { command: ['true'] } }
    expect((await t.request('POST', API, { as: t.operator, body: script })).status).toBe(403)
    expect((await t.request('POST', API, { as: t.admin, body: script })).status).toBe(201)
    expect((await t.request('POST', API, { as: t.viewer, body: apiTask() })).status).toBe(403)
    expect((await t.request('POST', API, { token: null, body: apiTask() })).status).toBe(401)
  })

  it('a script inside a workflow is admin-only too, on create, update and run', async () => {
    const step = { action: 'script', payload: { command: 'id', shell: true } }
    const workflow = { name: 'w', schedule: '@daily', action: 'workflow', payload: { steps: [step] } }
    expect((await t.request('POST', API, { as: t.operator, body: workflow })).status).toBe(403)

    const harmless = (
      await t.request('POST', API, {
        as: t.operator,
        body: {
          ...workflow,
          payload: { steps: [{ action: 'api', payload: { url: 'http://127.0.0.1:1/' } }] },
        },
      })
    ).body
    const sneaky = await t.request('PUT', `${API}/${harmless.id}`, {
      as: t.operator,
      body: { payload: { steps: [step] } },
    })
    expect(sneaky.status).toBe(403)

    // An admin's workflow with a script step cannot be run by an operator either (not theirs: 404).
    const adminTask = (await t.request('POST', API, { as: t.admin, body: workflow })).body
    expect((await t.request('POST', `${API}/${adminTask.id}/run`, { as: t.operator })).status).toBe(404)
  })

  it('lists, gets, updates and deletes, scoped to the owner', async () => {
    const a = (await t.request('POST', API, { as: t.operator, body: apiTask({ name: 'a' }) })).body
    await t.request('POST', API, { as: t.operator2, body: apiTask({ name: 'b' }) })

    const mine = await t.request('GET', API, { as: t.operator })
    expect(mine.status).toBe(200)
    expect(mine.body.map((x: { name: string }) => x.name)).toEqual(['a'])
    expect(mine.headers['x-total-count']).toBe('1')
    expect((await t.request('GET', API, { as: t.admin })).body).toHaveLength(2)
    expect((await t.request('GET', `${API}?limit=1&offset=1`, { as: t.admin })).body).toHaveLength(1)

    expect((await t.request('GET', `${API}/${a.id}`, { as: t.operator })).body.name).toBe('a')
    expect((await t.request('GET', `${API}/${a.id}`, { as: t.operator2 })).status).toBe(404)
    expect((await t.request('GET', `${API}/nope`, { as: t.operator })).status).toBe(404)

    const disabled = await t.request('PUT', `${API}/${a.id}`, { as: t.operator, body: { enabled: false } })
    expect(disabled.status).toBe(200)
    expect(disabled.body).toMatchObject({ enabled: false, nextRun: null, name: 'a', schedule: '0 0 1 1 *' })
    const retimed = await t.request('PUT', `${API}/${a.id}`, {
      as: t.operator,
      body: { enabled: true, schedule: '0 12 * * *' },
    })
    expect(retimed.body.nextRun).toMatch(/T12:00:00\.000Z$/)
    expect(
      (await t.request('PUT', `${API}/${a.id}`, { as: t.operator, body: { schedule: '99 * * * *' } })).status,
    ).toBe(400)
    expect(
      (await t.request('PUT', `${API}/${a.id}`, { as: t.operator2, body: { enabled: false } })).status,
    ).toBe(404)
    expect(
      (await t.request('PUT', `${API}/${a.id}`, { as: t.viewer, body: { enabled: false } })).status,
    ).toBe(403)

    expect((await t.request('DELETE', `${API}/${a.id}`, { as: t.operator2 })).status).toBe(404)
    const del = await t.request('DELETE', `${API}/${a.id}`, { as: t.operator })
    expect(del.status).toBe(200)
    expect(del.body).toEqual({ message: 'task a deleted', id: a.id })
    expect((await t.request('GET', `${API}/${a.id}`, { as: t.operator })).status).toBe(404)
  })

  it('previews the next fire times', async () => {
    const res = await t.request(
      'GET',
      `${API}/preview?schedule=${encodeURIComponent('30 2 * * *')}&timezone=Europe/Berlin&count=2&from=2026-03-28T12:00:00Z`,
      { as: t.viewer },
    )
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      schedule: '30 2 * * *',
      timezone: 'Europe/Berlin',
      times: ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    })
    const bad = await t.request(
      'GET',
      `${API}/preview?schedule=${encodeURIComponent('* * * * 9')}&timezone=X/Y&count=500`,
      {
        as: t.viewer,
      },
    )
    expect(bad.status).toBe(400)
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'query.count',
      'query.schedule',
      'query.timezone',
    ])
    expect((await t.request('GET', `${API}/preview`, { as: t.viewer })).status).toBe(400)
  })

  it('runs a disabled task on demand (202), records the run, its job and its logs', async () => {
    const task = (await t.request('POST', API, { as: t.operator, body: apiTask({ enabled: false }) })).body
    const res = await t.request('POST', `${API}/${task.id}/run`, { as: t.operator })
    expect(res.status).toBe(202)
    expect(res.body).toMatchObject({ taskId: task.id, trigger: 'manual', attempt: 1, scheduledFor: null })
    await runs.waitFor(() => runs.of(task.id, 'success').length === 1, 'the manual run to succeed')

    const run = (await t.request('GET', `${API}/runs/${res.body.id}`, { as: t.operator })).body
    expect(run).toMatchObject({ status: 'success', taskName: 'ping', error: null })
    expect(run.logs).toContain(`GET ${target.base}/ok`)
    expect(run.logs).toContain('hit /ok')
    expect(run.jobId).toBeTruthy()
    const job = await t.request('GET', `/api/myntrix/jobs/${run.jobId}`, { as: t.operator })
    expect(job.body).toMatchObject({ type: 'task.run', status: 'completed' })

    const history = await t.request('GET', `${API}/history`, { as: t.operator })
    expect(history.body[0]).toMatchObject({ id: run.id, taskName: 'ping', status: 'success' })
    expect((await t.request('GET', `${API}/${task.id}/history`, { as: t.operator })).body).toHaveLength(1)
    expect((await t.request('GET', `${API}/history`, { as: t.operator2 })).body).toHaveLength(0)
    expect((await t.request('GET', `${API}/runs/${run.id}`, { as: t.operator2 })).status).toBe(404)
    expect((await t.request('GET', `${API}/history?status=bogus`, { as: t.operator })).status).toBe(400)
    expect((await t.request('GET', `${API}/history?status=success`, { as: t.operator })).body).toHaveLength(1)
    expect((await t.request('GET', `${API}/history?status=failed`, { as: t.operator })).body).toHaveLength(0)

    const listed = (await t.request('GET', `${API}/${task.id}`, { as: t.operator })).body
    expect(listed.lastRun).toMatchObject({ id: run.id, status: 'success' })
    expect(listed.nextRun).toBeNull()
  })

  it('records a failing action with its reason', async () => {
    const task = (
      await t.request('POST', API, {
        as: t.operator,
        body: apiTask({ payload: { url: `${target.base}/status/503` } }),
      })
    ).body
    const run = (await t.request('POST', `${API}/${task.id}/run`, { as: t.operator })).body
    await runs.waitFor(() => runs.of(task.id, 'failed').length === 1, 'the run to fail')
    const full = (await t.request('GET', `${API}/runs/${run.id}`, { as: t.operator })).body
    expect(full).toMatchObject({ status: 'failed', error: 'expected status 2xx, got 503' })
    const job = await t.request('GET', `/api/myntrix/jobs/${full.jobId}`, { as: t.operator })
    expect(job.body).toMatchObject({ status: 'failed' })
  })

  it('cancels a running run; a finished one answers 409', async () => {
    const task = (
      await t.request('POST', API, {
        as: t.operator,
        body: apiTask({ payload: { url: `${target.base}/slow` } }),
      })
    ).body
    const run = (await t.request('POST', `${API}/${task.id}/run`, { as: t.operator })).body
    await runs.waitFor(() => runs.of(task.id, 'running').length === 1, 'the run to start')
    expect((await t.request('POST', `${API}/runs/${run.id}/cancel`, { as: t.viewer })).status).toBe(403)
    expect((await t.request('POST', `${API}/runs/${run.id}/cancel`, { as: t.operator2 })).status).toBe(404)
    const cancelled = await t.request('POST', `${API}/runs/${run.id}/cancel`, { as: t.operator })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.status).toBe('cancelled')
    expect((await t.request('POST', `${API}/runs/${run.id}/cancel`, { as: t.operator })).status).toBe(409)
    expect((await t.request('POST', `${API}/runs/nope/cancel`, { as: t.operator })).status).toBe(404)
  })
})
