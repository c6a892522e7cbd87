// Durable delivery on every engine, with real events (a sim:// device
// connecting), a real receiver and a real restart of the server on the same
// database: retries with backoff, every attempt recorded, and a notification
// still owed when the server stops sent by the next one.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { HANG, Receiver } from './receiver.js'

const RULES = '/api/myntrix/notification-rules'

describe.each(testEngines())('notification delivery on $name', (engine) => {
  let receiver: Receiver
  const apps: TestApp[] = []

  beforeAll(async () => {
    receiver = await new Receiver().start()
  })
  afterAll(async () => {
    await receiver.stop()
  })
  afterEach(async () => {
    const used = apps.splice(0)
    for (const app of used) await app.close()
    for (const db of new Set(used.map((a) => a.testDb))) await db.drop()
  })

  async function start(env: Record<string, string>, reuse?: TestApp): Promise<TestApp> {
    const t = await createTestApp(engine, reuse ? { env, testDb: reuse.testDb, seedUsers: false } : { env })
    apps.push(t)
    return t
  }

  /** A rule of the admin's for device.connected, to `path` on the receiver. */
  async function hook(t: TestApp, path: string, extra: Record<string, unknown> = {}) {
    const rule = await t.request('POST', RULES, {
      as: t.admin,
      body: {
        name: `hook ${path}`,
        filter: { kinds: ['device.connected'] },
        sink: { type: 'webhook', url: `${receiver.url}${path}` },
        ...extra,
      },
    })
    expect(rule.status, rule.text).toBe(201)
    receiver.expectSecret(path, rule.body.secret)
    return rule.body
  }

  /** A sim:// printer of the admin's, connected: the event the rules hear. */
  async function connectDevice(t: TestApp, name = 'printer') {
    const device = await t.request('POST', '/api/myntrix/devices', {
      as: t.admin,
      body: { name, connectionString: 'sim://marlin' },
    })
    expect(device.status, device.text).toBe(201)
    const connected = await t.request('POST', `/api/myntrix/devices/${device.body.id}/connect`, {
      as: t.admin,
    })
    expect(connected.status, connected.text).toBeLessThan(300)
    return device.body
  }

  const deliveries = async (t: TestApp, ruleId: string) =>
    (await t.request('GET', `${RULES}/${ruleId}/deliveries`, { as: t.admin })).body as any[]

  it('retries 500, 500 then 200: three attempts recorded, delivered, each signed', async () => {
    const t = await start({ MYNTRIX_NOTIFY_RETRY_BASE_MS: '50' })
    receiver.script('/flaky', [500, 500])
    const rule = await hook(t, '/flaky')
    const device = await connectDevice(t)
    const got = await receiver.waitFor('/flaky', 3)
    const [delivery] = await waitFor(
      async () => {
        const list = await deliveries(t, rule.id)
        return list[0]?.status === 'delivered' ? list : null
      },
      { what: 'the delivery recorded as delivered' },
    )
    expect(delivery).toMatchObject({
      eventKind: 'device.connected',
      resourceType: 'device',
      resourceId: device.id,
      attempts: 3,
      lastStatusCode: 200,
      lastError: null,
    })
    expect(delivery.attemptLog.map((a: any) => [a.attempt, a.statusCode, a.outcome])).toEqual([
      [1, 500, 'retry'],
      [2, 500, 'retry'],
      [3, 200, 'delivered'],
    ])
    expect(delivery.attemptLog[0].error).toContain('HTTP 500')
    // Backoff doubles: the second wait is planned twice as long as the first.
    const planned = delivery.attemptLog.map((a: any) =>
      a.nextAttemptAt ? Date.parse(a.nextAttemptAt) - Date.parse(a.startedAt) - a.durationMs : null,
    )
    expect(planned[1]).toBeGreaterThanOrEqual(planned[0])
    expect(got.every((r) => r.signed)).toBe(true)
    expect(got.map((r) => r.headers['x-myntrix-attempt'])).toEqual(['1', '2', '3'])
    expect(new Set(got.map((r) => r.headers['x-myntrix-delivery']))).toEqual(new Set([delivery.id]))
    expect(new Set(got.map((r) => r.text)).size).toBe(1)
    expect(got[0]?.body).toMatchObject({
      kind: 'device.connected',
      resource: { type: 'device', id: device.id, name: device.name, ownerId: t.admin.id },
      link: `/devices/${device.id}`,
      summary: `Device "${device.name}" connected`,
      suppressed: 0,
    })
  })

  it('delivers after a restart a notification whose retry was still planned when the server stopped', async () => {
    const env = { MYNTRIX_NOTIFY_RETRY_BASE_MS: '1500' }
    const first = await start(env)
    receiver.script('/restart', [503])
    const rule = await hook(first, '/restart', { cooldownSeconds: 3600 })
    await connectDevice(first)
    await receiver.waitFor('/restart', 1)
    const [owed] = await waitFor(
      async () => {
        const list = await deliveries(first, rule.id)
        return list[0]?.attempts === 1 ? list : null
      },
      { what: 'the first attempt recorded' },
    )
    expect(owed).toMatchObject({ status: 'pending', lastStatusCode: 503 })
    await first.close()
    expect(receiver.to('/restart')).toHaveLength(1)

    const second = await start(env, first)
    const got = await receiver.waitFor('/restart', 2)
    expect(got[1]?.headers['x-myntrix-delivery']).toBe(owed.id)
    expect(got[1]?.signed).toBe(true)
    const [done] = await waitFor(
      async () => {
        const list = await deliveries(second, rule.id)
        return list.find((d) => d.id === owed.id)?.status === 'delivered' ? list : null
      },
      { what: 'the owed delivery recorded as delivered' },
    )
    expect(done.attemptLog.map((a: any) => [a.attempt, a.statusCode, a.outcome])).toEqual([
      [1, 503, 'retry'],
      [2, 200, 'delivered'],
    ])
  })

  it('gives up after the last attempt and does not retry a refusal (4xx) or follow a redirect (3xx)', async () => {
    const t = await start({ MYNTRIX_NOTIFY_RETRY_BASE_MS: '20', MYNTRIX_NOTIFY_MAX_ATTEMPTS: '2' })
    receiver.script('/down', [502, 502, 502])
    receiver.script('/gone', [410])
    receiver.script('/moved', [302])
    const down = await hook(t, '/down')
    const gone = await hook(t, '/gone')
    const moved = await hook(t, '/moved')
    await connectDevice(t)
    for (const [rule, attempts, status] of [
      [down, 2, 502],
      [gone, 1, 410],
      [moved, 1, 302],
    ] as const) {
      const [d] = await waitFor(
        async () => {
          const list = await deliveries(t, rule.id)
          return list[0]?.status === 'failed' ? list : null
        },
        { what: `${rule.name} failed` },
      )
      expect(d).toMatchObject({ attempts, lastStatusCode: status, nextAttemptAt: null })
      expect(d.attemptLog.at(-1).outcome).toBe('failed')
    }
    expect(receiver.to('/gone')).toHaveLength(1)
    expect(receiver.to('/moved')).toHaveLength(1)
    expect((await deliveries(t, moved.id))[0].lastError).toMatch(/redirect.* not followed/)
  })

  it('ends an attempt the receiver does not answer at the timeout and retries it', async () => {
    const t = await start({ MYNTRIX_NOTIFY_TIMEOUT_MS: '300', MYNTRIX_NOTIFY_RETRY_BASE_MS: '20' })
    receiver.script('/slow', [HANG])
    const rule = await hook(t, '/slow')
    await connectDevice(t)
    await receiver.waitFor('/slow', 2)
    const [d] = await waitFor(
      async () => {
        const list = await deliveries(t, rule.id)
        return list[0]?.status === 'delivered' ? list : null
      },
      { what: 'the delivery after the timed-out attempt' },
    )
    expect(d.attemptLog.map((a: any) => [a.attempt, a.statusCode, a.outcome, a.error])).toEqual([
      [1, null, 'retry', 'timed out after 300 ms'],
      [2, 200, 'delivered', null],
    ])
  })
})
