// Events from real parts to real receivers, on every engine: a failing script
// task, an agent in a crash loop, a device connecting and dropping; a disabled
// rule and another owner's rule hear nothing; the cooldown holds back repeats
// and the next notification counts them.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { EventMap } from '../../../src/events/bus.js'
import type { JobsArea } from '../../../src/modules/jobs/index.js'
import { Dispatcher } from '../../../src/modules/notifications/dispatcher.js'
import type { NotificationEvent } from '../../../src/modules/notifications/events.js'
import type { NotificationsArea } from '../../../src/modules/notifications/index.js'
import { Outbox } from '../../../src/modules/notifications/outbox.js'
import { RuleRepository } from '../../../src/modules/notifications/rule-repository.js'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { Receiver } from './receiver.js'

const RULES = '/api/myntrix/notification-rules'
const env = {
  MYNTRIX_AGENT_BACKOFF_INITIAL_MS: '20',
  MYNTRIX_AGENT_BACKOFF_MAX_MS: '50',
  MYNTRIX_AGENT_SAMPLE_INTERVAL_MS: '200',
}

describe.each(testEngines())('notification events on $name', (engine) => {
  let t: TestApp
  let receiver: Receiver

  beforeAll(async () => {
    receiver = await new Receiver().start()
  })
  afterAll(async () => {
    await receiver.stop()
  })
  beforeEach(async () => {
    t = await createTestApp(engine, { env })
  })
  afterEach(async () => {
    await t.dispose()
  })

  const area = () => t.app.myntrix.areas.find((a) => a.name === 'notifications') as NotificationsArea

  async function hook(
    as: TestUser,
    path: string,
    filter: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) {
    const res = await t.request('POST', RULES, {
      as,
      body: { name: path, filter, sink: { type: 'webhook', url: `${receiver.url}${path}` }, ...extra },
    })
    expect(res.status, res.text).toBe(201)
    receiver.expectSecret(path, res.body.secret)
    return res.body as { id: string }
  }

  const deliveries = async (ruleId: string) =>
    (await t.request('GET', `${RULES}/${ruleId}/deliveries`, { as: t.admin })).body as any[]

  function count<K extends keyof EventMap>(name: K, match: (e: EventMap[K]) => boolean): { n: number } {
    const counter = { n: 0 }
    t.app.myntrix.context.bus.on(name, (e) => {
      if (match(e)) counter.n++
    })
    return counter
  }

  it('sends task.failed with the run’s log excerpt; a disabled rule and another owner’s rule send nothing', async () => {
    const task = await t.request('POST', '/api/myntrix/tasks', {
      as: t.admin,
      body: {
        name: 'nightly backup',
        schedule: '0 0 1 1 *',
        action: 'script',
        payload: { command: ['sh', '-c', 'echo copying files; echo disk full >&2; exit 1'] },
      },
    })
    expect(task.status, task.text).toBe(201)
    const enabled = await hook(t.admin, '/task-failed', { kinds: ['task.failed'], taskIds: [task.body.id] })
    const disabled = await hook(t.admin, '/task-disabled', { kinds: ['task.failed'] }, { enabled: false })
    // Operators may not target loopback; this rule's destination never matters: it must match nothing.
    const foreign = await t.request('POST', RULES, {
      as: t.operator,
      body: {
        name: 'not mine',
        filter: { kinds: ['task.failed'] },
        sink: { type: 'webhook', url: 'https://hooks.example.com/never' },
      },
    })
    expect(foreign.status).toBe(201)

    const run = await t.request('POST', `/api/myntrix/tasks/${task.body.id}/run`, { as: t.admin })
    expect(run.status, run.text).toBeLessThan(300)
    const [got] = await receiver.waitFor('/task-failed', 1)
    expect(got?.signed).toBe(true)
    expect(got?.body).toMatchObject({
      kind: 'task.failed',
      resource: { type: 'task', id: task.body.id, name: 'nightly backup', ownerId: t.admin.id },
      link: `/tasks/${task.body.id}`,
      details: { attempt: 1, trigger: 'manual' },
    })
    expect(got?.body.summary).toMatch(/^Task "nightly backup" failed/)
    expect(got?.body.details.logExcerpt).toContain('copying files')
    expect(got?.body.details.logExcerpt).toContain('disk full')
    expect(got?.body.details.error).toEqual(expect.any(String))

    await area().source.settled()
    expect(await deliveries(disabled.id)).toEqual([])
    expect(await deliveries(foreign.body.id)).toEqual([])
    expect(receiver.to('/task-disabled')).toHaveLength(0)
    expect(await deliveries(enabled.id)).toHaveLength(1)
  })

  it('sends job.interrupted for a job stopped from outside, with its reason', async () => {
    await hook(t.admin, '/job-interrupted', { kinds: ['job.interrupted'] })
    const { service } = t.app.myntrix.areas.find((a) => a.name === 'jobs') as JobsArea
    const job = await service.create({ name: 'print benchy', type: 'device-transfer', running: true })
    await service.interrupt(job.id, 'the device disconnected', undefined, { lastAckedLine: 41 })
    const [got] = await receiver.waitFor('/job-interrupted', 1)
    expect(got?.body).toMatchObject({ kind: 'job.interrupted', resource: { type: 'job', id: job.id } })
    expect(got?.body.summary).toBe('Job "print benchy" was interrupted: the device disconnected')
  })

  it('fires agent.crashloop once for an agent that exits non-zero 6 times; the cooldown holds back the exits', async () => {
    const agent = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: {
        name: 'flaky worker',
        configuration: {
          command: ['sh', '-c', 'exit 3'],
          restartPolicy: 'always',
          maxRestarts: 5,
          restartWindowMs: 60_000,
        },
      },
    })
    expect(agent.status, agent.text).toBe(201)
    const loop = await hook(
      t.admin,
      '/crashloop',
      { kinds: ['agent.crashloop'], agentIds: [agent.body.id] },
      {
        cooldownSeconds: 0,
      },
    )
    const exits = await hook(t.admin, '/exited', { kinds: ['agent.exited'] }, { cooldownSeconds: 3600 })
    const exited = count('agent.exited', (e) => e.agentId === agent.body.id && !e.expected)

    expect(
      (await t.request('POST', `/api/myntrix/agents/${agent.body.id}/start`, { as: t.operator })).status,
    ).toBe(200)
    const [got] = await receiver.waitFor('/crashloop', 1)
    expect(got?.signed).toBe(true)
    expect(got?.body).toMatchObject({
      kind: 'agent.crashloop',
      resource: { type: 'agent', id: agent.body.id, name: 'flaky worker', ownerId: t.operator.id },
      link: `/agents/${agent.body.id}`,
      suppressed: 0,
    })
    expect(got?.body.details.reason).toMatch(/^crash loop: more than 5 restarts/)

    const status = await t.request('GET', `/api/myntrix/agents/${agent.body.id}`, { as: t.operator })
    expect(status.body.status).toBe('error')
    await area().source.settled()
    expect(exited.n).toBe(6)
    expect(await deliveries(loop.id)).toHaveLength(1)
    const exitDeliveries = await deliveries(exits.id)
    expect(exitDeliveries).toHaveLength(1)
    expect(exitDeliveries[0].body).toMatchObject({ kind: 'agent.exited', details: { code: 3, signal: null } })
    await receiver.waitFor('/exited', 1)
    expect(receiver.to('/crashloop')).toHaveLength(1)
  })

  it('sends device.connected and device.disconnected on the change only', async () => {
    const rule = await hook(
      t.admin,
      '/device',
      { kinds: ['device.connected', 'device.disconnected'] },
      {
        cooldownSeconds: 0,
      },
    )
    const device = await t.request('POST', '/api/myntrix/devices', {
      as: t.admin,
      body: { name: 'bench printer', connectionString: 'sim://marlin' },
    })
    const url = `/api/myntrix/devices/${device.body.id}`
    await t.request('POST', `${url}/connect`, { as: t.admin })
    await receiver.waitFor('/device', 1)
    await t.request('PUT', url, { as: t.admin, body: { name: 'bench printer 2' } })
    await t.request('POST', `${url}/disconnect`, { as: t.admin })
    const got = await receiver.waitFor('/device', 2)
    expect(got.map((r) => r.body.kind)).toEqual(['device.connected', 'device.disconnected'])
    expect(got[1]?.body.summary).toBe('Device "bench printer 2" disconnected')
    await area().source.settled()
    expect(await deliveries(rule.id)).toHaveLength(2)
  })

  it('sends agent.unhealthy once when a running agent’s heartbeat stops', async () => {
    const agent = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: {
        name: 'quiet worker',
        configuration: {
          command: ['sh', '-c', 'echo \'{"myntrix":"heartbeat"}\'; exec sleep 60'],
          healthCheck: { type: 'heartbeat', timeoutMs: 500 },
        },
      },
    })
    expect(agent.status, agent.text).toBe(201)
    const rule = await hook(t.admin, '/unhealthy', { kinds: ['agent.unhealthy'] }, { cooldownSeconds: 0 })
    const started = await t.request('POST', `/api/myntrix/agents/${agent.body.id}/start`, { as: t.operator })
    expect(started.status, started.text).toBe(200)
    const [got] = await receiver.waitFor('/unhealthy', 1)
    expect(got?.signed).toBe(true)
    expect(got?.body).toMatchObject({
      kind: 'agent.unhealthy',
      resource: { type: 'agent', id: agent.body.id, name: 'quiet worker', ownerId: t.operator.id },
    })
    expect(got?.body.summary).toMatch(/^Agent "quiet worker" is unhealthy: /)
    expect(got?.body.details.health).toBeLessThanOrEqual(60)
    await area().source.settled()
    expect(await deliveries(rule.id)).toHaveLength(1)
  })

  it('sends device.alarm when Marlin halts (M112)', async () => {
    const rule = await hook(t.admin, '/alarm', { kinds: ['device.alarm'] }, { cooldownSeconds: 0 })
    const device = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: {
        name: 'halting printer',
        connectionString: 'sim://marlin',
        configuration: { temperatureReport: 'off' },
      },
    })
    const url = `/api/myntrix/devices/${device.body.id}`
    expect((await t.request('POST', `${url}/connect`, { as: t.operator })).status).toBe(200)
    // M112 goes out at once (Marlin's emergency parser); the halt that follows is the alarm.
    const halt = await t.request('POST', `${url}/command`, { as: t.operator, body: { command: 'M112' } })
    expect(halt.body.ok, halt.text).toBe(true)
    const [got] = await receiver.waitFor('/alarm', 1)
    expect(got?.body).toMatchObject({
      kind: 'device.alarm',
      resource: { type: 'device', id: device.body.id, ownerId: t.operator.id },
    })
    expect(got?.body.summary).toMatch(/^Device "halting printer" stopped itself \(alarm\): .*kill\(\) called/)
    expect((await t.request('GET', url, { as: t.operator })).body.status).toBe('error')
    await area().source.settled()
    expect(await deliveries(rule.id)).toHaveLength(1)
  })

  it('holds back events of a rule and resource within the cooldown and counts them in the next notification', async () => {
    const rule = await hook(t.admin, '/cooldown', { kinds: ['device.error'] }, { cooldownSeconds: 60 })
    let now = new Date('2026-01-01T00:00:00Z')
    const dispatcher = new Dispatcher({
      rules: new RuleRepository(t.database.db),
      outbox: new Outbox(t.database.db),
      roleOf: async () => 'admin',
      maxAttempts: 1,
      queued: () => {},
      now: () => now,
    })
    const event = (deviceId: string): NotificationEvent => ({
      id: `e-${now.getTime()}-${deviceId}`,
      kind: 'device.error',
      time: now.toISOString(),
      resource: { type: 'device', id: deviceId, name: deviceId, ownerId: t.admin.id },
      summary: `Device "${deviceId}" reported an error`,
      link: `/devices/${deviceId}`,
      details: {},
    })
    const at = (seconds: number) => {
      now = new Date(Date.parse('2026-01-01T00:00:00Z') + seconds * 1000)
    }
    await dispatcher.dispatch(event('d1'))
    for (const s of [10, 20, 59]) {
      at(s)
      await dispatcher.dispatch(event('d1'))
    }
    await dispatcher.dispatch(event('d2'))
    at(61)
    await dispatcher.dispatch(event('d1'))
    const list = (await deliveries(rule.id)).reverse()
    expect(list.map((d) => [d.resourceId, d.body.suppressed])).toEqual([
      ['d1', 0],
      ['d2', 0],
      ['d1', 3],
    ])
  })
})
