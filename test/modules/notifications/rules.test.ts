// The notification rules API on every engine: CRUD owner-scoped like agents,
// the webhook secret shown once, the outbound policy on destinations (at
// creation and again at delivery), and POST .../test against a real receiver.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Outbox } from '../../../src/modules/notifications/outbox.js'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { Receiver } from './receiver.js'

const RULES = '/api/myntrix/notification-rules'

describe.each(testEngines())('notification rules on $name', (engine) => {
  let t: TestApp
  let receiver: Receiver

  beforeAll(async () => {
    receiver = await new Receiver().start()
  })
  afterAll(async () => {
    await receiver.stop()
  })
  beforeEach(async () => {
    t = await createTestApp(engine)
  })
  afterEach(async () => {
    await t.dispose()
  })

  const webhookRule = (url: string, extra: Record<string, unknown> = {}) => ({
    name: 'on failure',
    filter: { kinds: ['task.failed'] },
    sink: { type: 'webhook', url },
    ...extra,
  })

  async function create(body: Record<string, unknown>, as: TestUser) {
    const res = await t.request('POST', RULES, { as, body })
    expect(res.status, res.text).toBe(201)
    return res.body as Record<string, any>
  }

  it('creates a webhook rule, answers its secret once, and lists it for its owner only', async () => {
    const rule = await create(webhookRule('https://hooks.example.com/myntrix'), t.operator)
    expect(rule).toMatchObject({
      name: 'on failure',
      enabled: true,
      cooldownSeconds: 60,
      filter: { kinds: ['task.failed'] },
      sink: { type: 'webhook', url: 'https://hooks.example.com/myntrix', hasPassword: false },
      ownerId: t.operator.id,
    })
    expect(rule.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/)

    const again = await t.request('GET', `${RULES}/${rule.id}`, { as: t.operator })
    expect(again.status).toBe(200)
    expect(again.body.secret).toBeUndefined()
    expect(again.text).not.toContain(rule.secret)

    const mine = await t.request('GET', RULES, { as: t.operator })
    expect(mine.body.map((r: { id: string }) => r.id)).toEqual([rule.id])
    expect(mine.headers['x-total-count']).toBe('1')
    expect((await t.request('GET', RULES, { as: t.operator2 })).body).toEqual([])
    const all = await t.request('GET', RULES, { as: t.admin })
    expect(all.body.map((r: { id: string }) => r.id)).toEqual([rule.id])
  })

  it("answers 404 for another owner's rule on every route, and lets its owner change and delete it", async () => {
    const rule = await create(webhookRule('https://hooks.example.com/a'), t.operator)
    const url = `${RULES}/${rule.id}`
    const as = t.operator2
    expect((await t.request('GET', url, { as })).status).toBe(404)
    expect((await t.request('PUT', url, { as, body: { enabled: false } })).status).toBe(404)
    expect((await t.request('GET', `${url}/deliveries`, { as })).status).toBe(404)
    expect((await t.request('POST', `${url}/test`, { as })).status).toBe(404)
    expect((await t.request('DELETE', url, { as })).status).toBe(404)

    const changed = await t.request('PUT', url, {
      as: t.operator,
      body: { enabled: false, cooldownSeconds: 0, filter: { kinds: ['agent.crashloop'], agentIds: ['a1'] } },
    })
    expect(changed.status, changed.text).toBe(200)
    expect(changed.body).toMatchObject({
      enabled: false,
      cooldownSeconds: 0,
      filter: { kinds: ['agent.crashloop'], agentIds: ['a1'] },
    })
    expect(changed.body.secret).toBeUndefined()

    const rotated = await t.request('PUT', url, { as: t.operator, body: { rotateSecret: true } })
    expect(rotated.body.secret).toMatch(/^whsec_/)
    expect(rotated.body.secret).not.toBe(rule.secret)

    expect((await t.request('DELETE', url, { as: t.admin })).body).toEqual({
      message: 'notification rule deleted',
      id: rule.id,
    })
    expect((await t.request('GET', url, { as: t.operator })).status).toBe(404)
  })

  it('refuses viewers any change, and reads their own (empty) list', async () => {
    const rule = await create(webhookRule('https://hooks.example.com/b'), t.admin)
    const res = await t.request('POST', RULES, {
      as: t.viewer,
      body: webhookRule('https://hooks.example.com/c'),
    })
    expect(res.status).toBe(403)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect((await t.request('GET', RULES, { as: t.viewer })).body).toEqual([])
    expect((await t.request('POST', `${RULES}/${rule.id}/test`, { as: t.viewer })).status).toBe(403)
  })

  it('refuses a non-admin webhook or broker on loopback or a metadata address; an admin may', async () => {
    for (const url of [`${receiver.url}/x`, 'http://169.254.169.254/latest', 'http://localhost:9/x']) {
      const res = await t.request('POST', RULES, { as: t.operator, body: webhookRule(url) })
      expect(res.status, url).toBe(403)
      expect(res.body.errors[0].path).toBe('sink.url')
    }
    const broker = await t.request('POST', RULES, {
      as: t.operator,
      body: { ...webhookRule(''), sink: { type: 'mqtt', url: 'mqtt://127.0.0.1:1883', topic: 'a/b' } },
    })
    expect(broker.status).toBe(403)
    expect(
      (await t.request('POST', RULES, { as: t.admin, body: webhookRule(`${receiver.url}/x`) })).status,
    ).toBe(201)
  })

  it('checks sink fields per type with field paths', async () => {
    const bad = await t.request('POST', RULES, {
      as: t.admin,
      body: {
        name: 'x',
        filter: { kinds: ['nope'] },
        sink: { type: 'webhook', url: 'ftp://example.com/', topic: 't' },
      },
    })
    expect(bad.status).toBe(400)
    const mqtt = await t.request('POST', RULES, {
      as: t.admin,
      body: { name: 'x', filter: { kinds: ['job.failed'] }, sink: { type: 'mqtt', url: 'mqtt://h/p' } },
    })
    expect(mqtt.status).toBe(400)
    expect(mqtt.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['sink.topic', 'sink.url'])
    const wild = await t.request('POST', RULES, {
      as: t.admin,
      body: {
        name: 'x',
        filter: { kinds: ['job.failed'] },
        sink: { type: 'mqtt', url: 'mqtt://h', topic: 'a/#' },
      },
    })
    expect(wild.body.errors).toEqual([{ path: 'sink.topic', message: expect.stringContaining('wildcards') }])
  })

  it('keeps an MQTT password and never answers it', async () => {
    const rule = await create(
      {
        name: 'ha',
        filter: { kinds: ['device.error'] },
        sink: {
          type: 'mqtt',
          url: 'mqtt://broker.example.com',
          topic: 'myntrix/alerts',
          username: 'u',
          password: 'pw-secret-1',
        },
      },
      t.operator,
    )
    expect(rule.secret).toBeUndefined()
    expect(rule.sink).toEqual({
      type: 'mqtt',
      url: 'mqtt://broker.example.com',
      topic: 'myntrix/alerts',
      username: 'u',
      hasPassword: true,
      retain: false,
    })
    const renamed = await t.request('PUT', `${RULES}/${rule.id}`, {
      as: t.operator,
      body: { sink: { type: 'mqtt', url: 'mqtt://broker.example.com:1884', topic: 'other' } },
    })
    expect(renamed.body.sink).toMatchObject({ hasPassword: true, topic: 'other' })
    for (const res of [renamed, await t.request('GET', RULES, { as: t.operator })]) {
      expect(res.text).not.toContain('pw-secret-1')
    }
  })

  it('sends a signed test notification and answers the delivery with its attempt', async () => {
    const rule = await create(webhookRule(`${receiver.url}/test-ok`), t.admin)
    receiver.expectSecret('/test-ok', rule.secret)
    const res = await t.request('POST', `${RULES}/${rule.id}/test`, { as: t.admin })
    expect(res.status, res.text).toBe(200)
    expect(res.body).toMatchObject({
      ruleId: rule.id,
      eventKind: 'notification.test',
      status: 'delivered',
      attempts: 1,
      lastStatusCode: 200,
      attemptLog: [{ attempt: 1, statusCode: 200, outcome: 'delivered', error: null }],
    })
    const [got] = receiver.to('/test-ok')
    expect(got?.signed).toBe(true)
    expect(got?.headers['x-myntrix-event']).toBe('notification.test')
    expect(got?.headers['x-myntrix-delivery']).toBe(res.body.id)
    expect(got?.body).toMatchObject({
      kind: 'notification.test',
      resource: { type: 'rule', id: rule.id, name: rule.name },
      rule: { id: rule.id, name: rule.name },
      suppressed: 0,
      link: `/api/myntrix/notification-rules/${rule.id}`,
    })
    expect(got?.body.summary).toContain(rule.name)

    receiver.script('/test-refused', [404])
    const refusing = await create(webhookRule(`${receiver.url}/test-refused`), t.admin)
    const failed = await t.request('POST', `${RULES}/${refusing.id}/test`, { as: t.admin })
    expect(failed.body).toMatchObject({ status: 'failed', lastStatusCode: 404, attempts: 1 })
    expect(failed.body.lastError).toContain('404')

    const listed = await t.request('GET', `${RULES}/${rule.id}/deliveries`, { as: t.admin })
    expect(listed.body).toHaveLength(1)
    expect(listed.body[0].id).toBe(res.body.id)

    const metrics = await t.request('GET', '/metrics', { as: t.admin })
    expect(metrics.text).toContain('myntrix_notification_deliveries{status="delivered"} 1')
    expect(metrics.text).toContain('myntrix_notification_deliveries{status="failed"} 1')
    expect(metrics.text).toContain('myntrix_notification_deliveries{status="pending"} 0')

    // History: finished deliveries older than the cut are deleted with their attempts.
    const outbox = new Outbox(t.database.db)
    expect(await outbox.prune(new Date(Date.parse(res.body.createdAt)))).toBe(0)
    expect(await outbox.prune(new Date(Date.now() + 60_000))).toBe(2)
    expect((await t.request('GET', `${RULES}/${rule.id}/deliveries`, { as: t.admin })).body).toEqual([])
    const attempts = await t.database.db.selectFrom('notificationAttempts').selectAll().execute()
    expect(attempts).toEqual([])
  })

  it('checks the destination again at delivery with the owner’s role as it is now', async () => {
    const boss = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username: 'boss', password: 'boss-password-1', role: 'admin' },
    })
    const login = await t.request('POST', '/api/auth/token', {
      body: { username: 'boss', password: 'boss-password-1' },
    })
    const bossUser = { id: boss.body.id, username: 'boss', token: login.body.access_token }
    const rule = await create(webhookRule(`${receiver.url}/demoted`), bossUser)
    await t.request('PUT', `/api/auth/users/${boss.body.id}`, { as: t.admin, body: { role: 'operator' } })
    const res = await t.request('POST', `${RULES}/${rule.id}/test`, { as: t.admin })
    expect(res.body).toMatchObject({ status: 'failed', lastStatusCode: null })
    expect(res.body.lastError).toMatch(/refused.*loopback/)
    expect(receiver.to('/demoted')).toHaveLength(0)
  })
})
