// Alert rules end to end on every engine: an MQTT device on the local
// Mosquitto publishes the readings (the test is its firmware), the rules are
// evaluated as they arrive, and alert.firing / alert.resolved reach a real
// webhook receiver through a notification rule. A 1 s spike does not fire a
// forSeconds 2 rule, a 3 s excursion does, a reading inside the hysteresis band
// keeps it firing, only a value past the clear threshold resolves it, and an
// alert that fires again within the rule's cooldown is recorded but not sent.

import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertEventPayload } from '../../../src/events/bus.js'
import type { AlertsArea } from '../../../src/modules/alerts/index.js'
import type { MonitoringArea } from '../../../src/modules/monitoring/index.js'
import type { NotificationsArea } from '../../../src/modules/notifications/index.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { portOpen } from '../../helpers/ports.js'
import { useReceiver } from '../notifications/receiver.js'
import { nextAlertChange } from './support.js'

const RULES = '/api/myntrix/alert-rules'
const ALERTS = '/api/myntrix/alerts'
const BROKER = 'mqtt://127.0.0.1:1883'
const hasBroker = await portOpen(1883)

describe.each(testEngines())('alert rules on $name', (engine) => {
  let t: TestApp
  const clients: MqttClient[] = []
  const receiver = useReceiver()

  beforeEach(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_METRICS_INTERVAL_MS: '200' } })
  })
  afterEach(async () => {
    await t.dispose()
    for (const c of clients.splice(0)) await c.endAsync(true)
  })

  const area = <A>(name: string) => t.app.myntrix.areas.find((a) => a.name === name) as A

  const nextChange = (ruleId: string, state: AlertEventPayload['state']) =>
    nextAlertChange(t.app.myntrix.context.bus, ruleId, state)

  /** An admin's MQTT device, connected, and a function that publishes its temperature and waits until heard. */
  async function mqttThermometer() {
    const prefix = `myntrix-test/${randomUUID()}`
    const far = await connectAsync(BROKER, { reconnectPeriod: 0 })
    clients.push(far)
    const created = await t.request('POST', '/api/myntrix/devices', {
      as: t.admin,
      body: { name: 'hotend', connectionString: `${BROKER}/${prefix}` },
    })
    expect(created.status, created.text).toBe(201)
    const connected = await t.request('POST', `/api/myntrix/devices/${created.body.id}/connect`, {
      as: t.admin,
    })
    expect(connected.body.status, connected.text).toBe('connected')
    const send = async (temperature: number) => {
      const heard = new Promise<void>((resolve) => {
        const off = t.app.myntrix.context.bus.on('device.telemetry', (e) => {
          if (e.deviceId !== created.body.id || e.readings.temperature !== temperature) return
          off()
          resolve()
        })
      })
      await far.publishAsync(`${prefix}/telemetry`, JSON.stringify({ temperature }), { qos: 1 })
      await heard
      await area<AlertsArea>('alerts').recorder.settled()
    }
    return { id: created.body.id as string, send }
  }

  /** An operator's host rule that always holds (memory.percent >= 0), once its alert fired and was recorded. */
  async function firingHostRule(name: string) {
    const created = await t.request('POST', RULES, {
      as: t.operator,
      body: { name, condition: { source: 'host', metric: 'memory.percent', operator: '>=', threshold: 0 } },
    })
    expect(created.status, created.text).toBe(201)
    await nextChange(created.body.id, 'firing')
    await area<AlertsArea>('alerts').recorder.settled()
    return created
  }

  const alertsOf = async (ruleId: string) =>
    (await t.request('GET', `${ALERTS}?ruleId=${ruleId}`, { as: t.admin })).body as any[]

  it.skipIf(!hasBroker)(
    'forSeconds, hysteresis and cooldown: a spike is ignored, an excursion fires once, only the clear threshold resolves',
    async () => {
      const hook = await t.request('POST', '/api/myntrix/notification-rules', {
        as: t.admin,
        body: {
          name: 'alerts',
          filter: { kinds: ['alert.firing', 'alert.resolved'] },
          cooldownSeconds: 0,
          sink: { type: 'webhook', url: `${receiver().url}/alerts` },
        },
      })
      expect(hook.status, hook.text).toBe(201)
      receiver().expectSecret('/alerts', hook.body.secret)
      const device = await mqttThermometer()
      const created = await t.request('POST', RULES, {
        as: t.admin,
        body: {
          name: 'hotend too hot',
          condition: {
            source: 'device',
            deviceId: device.id,
            metric: 'temperature',
            operator: '>',
            threshold: 250,
            clearThreshold: 240,
          },
          forSeconds: 2,
          cooldownSeconds: 600,
        },
      })
      expect(created.status, created.text).toBe(201)
      const rule = created.body
      expect(rule).toMatchObject({ enabled: true, forSeconds: 2, cooldownSeconds: 600 })
      await device.send(200)
      expect(await alertsOf(rule.id)).toEqual([])

      // A 1 s spike: pending, then ok; nothing fires, nothing is sent.
      const pending = nextChange(rule.id, 'pending')
      await device.send(260)
      await pending
      await sleep(1000)
      await device.send(210)
      let list = await alertsOf(rule.id)
      expect(list).toHaveLength(1)
      expect(list[0]).toMatchObject({ state: 'ok', value: 210, firedAt: null, notified: false })
      expect(list[0].transitions.map((x: any) => [x.state, x.value])).toEqual([
        ['pending', 260],
        ['ok', 210],
      ])

      // A 3 s excursion: fires 2 s after it began, with no further reading needed.
      const firing = nextChange(rule.id, 'firing')
      await device.send(262)
      const fired = await firing
      expect(Date.parse(fired.firedAt!) - Date.parse(fired.startedAt)).toBeGreaterThanOrEqual(2000)
      await sleep(1000)
      // Inside the band (below the threshold, above the clear threshold): still firing.
      for (const value of [245, 255, 241, 252, 244]) await device.send(value)
      list = await alertsOf(rule.id)
      expect(list[0]).toMatchObject({ state: 'firing', value: 262, notified: true })
      const [sentFiring] = await receiver().waitFor('/alerts', 1)
      expect(sentFiring?.signed).toBe(true)
      expect(sentFiring?.body).toMatchObject({
        kind: 'alert.firing',
        resource: { type: 'alert', id: rule.id, name: 'hotend too hot', ownerId: t.admin.id },
        details: {
          alertId: list[0].id,
          value: 262,
          threshold: 250,
          deviceId: device.id,
          deviceName: 'hotend',
        },
      })
      expect(sentFiring?.body.summary).toBe(
        'Alert "hotend too hot" is firing: temperature of device "hotend" is 262 (> 250 for 2 s)',
      )

      const ack = await t.request('POST', `${ALERTS}/${list[0].id}/acknowledge`, { as: t.admin })
      expect(ack.status, ack.text).toBe(200)
      expect(ack.body).toMatchObject({ state: 'firing', acknowledgedBy: t.admin.id })

      // Past the clear threshold: resolved, and the resolution is sent.
      await device.send(239)
      list = await alertsOf(rule.id)
      expect(list[0]).toMatchObject({ state: 'resolved', value: 239, acknowledgedBy: t.admin.id })
      expect(list[0].transitions.map((x: any) => x.state)).toEqual(['pending', 'firing', 'resolved'])
      const sent = await receiver().waitFor('/alerts', 2)
      expect(sent[1]?.body).toMatchObject({
        kind: 'alert.resolved',
        details: { alertId: list[0].id, value: 239 },
      })
      const late = await t.request('POST', `${ALERTS}/${list[0].id}/acknowledge`, { as: t.admin })
      expect(late.status).toBe(200)

      // Flapping across the whole band within the cooldown: recorded, not sent.
      const again = nextChange(rule.id, 'firing')
      await device.send(270)
      await again
      await device.send(230)
      list = await alertsOf(rule.id)
      expect(list[0]).toMatchObject({ state: 'resolved', notified: false })
      const notAcked = await t.request('POST', `${ALERTS}/${list[0].id}/acknowledge`, { as: t.admin })
      expect(notAcked.status).toBe(409)
      await area<NotificationsArea>('notifications').source.settled()
      expect(receiver().to('/alerts')).toHaveLength(2)
      const active = await t.request('GET', `${ALERTS}?state=active`, { as: t.admin })
      expect(active.body).toEqual([])
    },
  )

  it('a host rule fires on the monitoring sampler’s metric', async () => {
    const created = await firingHostRule('busy host')
    const active = await t.request('GET', `${ALERTS}?state=active`, { as: t.operator })
    expect(active.body).toHaveLength(1)
    expect(active.body[0]).toMatchObject({
      ruleId: created.body.id,
      ownerId: t.operator.id,
      resourceType: 'host',
      resourceId: 'memory.percent',
      state: 'firing',
    })
    expect(active.body[0].value).toBeGreaterThan(0)
    // Changing the condition closes the open alert and starts over.
    const changed = await t.request('PUT', `${RULES}/${created.body.id}`, {
      as: t.operator,
      body: { condition: { source: 'host', metric: 'memory.percent', operator: '>', threshold: 100 } },
    })
    expect(changed.status, changed.text).toBe(200)
    await area<AlertsArea>('alerts').recorder.settled()
    const closed = await t.request('GET', `${ALERTS}/${active.body[0].id}`, { as: t.operator })
    expect(closed.body).toMatchObject({ state: 'resolved', value: null })
    // Others see nothing of it.
    expect((await t.request('GET', ALERTS, { as: t.operator2 })).body).toEqual([])
    expect((await t.request('GET', `${ALERTS}/${active.body[0].id}`, { as: t.operator2 })).status).toBe(404)
  })

  it('a firing alert is resumed after a restart: the same alert, not a new one', async () => {
    const created = await firingHostRule('memory')
    const before = (await t.request('GET', ALERTS, { as: t.operator })).body
    expect(before).toHaveLength(1)

    await t.close()
    t = await createTestApp(engine, {
      testDb: t.testDb,
      seedUsers: false,
      env: { MYNTRIX_METRICS_INTERVAL_MS: '200' },
    })
    // Samples after the restart still pass the threshold: a resumed alert stays as it is.
    const sampled = new Promise<void>((resolve) => {
      let n = 0
      const stop = area<MonitoringArea>('monitoring').service.sampler.onSample(() => {
        if (++n < 3) return
        stop()
        resolve()
      })
    })
    await sampled
    await area<AlertsArea>('alerts').recorder.settled()
    const after = (await t.request('GET', ALERTS, { as: t.operator })).body
    expect(after.map((a: any) => [a.id, a.state])).toEqual([[before[0].id, 'firing']])
    // And the evaluator holds it: changing the rule closes that very alert.
    await t.request('PUT', `${RULES}/${created.body.id}`, { as: t.operator, body: { forSeconds: 60 } })
    await area<AlertsArea>('alerts').recorder.settled()
    const closed = (await t.request('GET', `${ALERTS}/${before[0].id}`, { as: t.operator })).body
    expect(closed.transitions.map((x: any) => x.state)).toEqual(['pending', 'firing', 'resolved'])
  })

  it('rules are owner-scoped; viewers cannot create; bad input is a 400 and stores nothing', async () => {
    const mine = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: { name: 'printer', connectionString: 'sim://marlin' },
    })
    const theirs = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator2,
      body: { name: 'their printer', connectionString: 'sim://marlin' },
    })
    const body = (deviceId: string, extra: Record<string, unknown> = {}) => ({
      name: 'bed cold',
      condition: {
        source: 'device',
        deviceId,
        metric: 'bedTemperature',
        operator: '<',
        threshold: 50,
        ...extra,
      },
      forSeconds: 10,
    })
    const rule = await t.request('POST', RULES, { as: t.operator, body: body(mine.body.id) })
    expect(rule.status, rule.text).toBe(201)
    expect(rule.body.condition).toMatchObject({ deviceId: mine.body.id, clearThreshold: null })
    const url = `${RULES}/${rule.body.id}`

    for (const [method, path, extra] of [
      ['GET', url, undefined],
      ['PUT', url, { name: 'mine now' }],
      ['DELETE', url, undefined],
      ['GET', `${ALERTS}?ruleId=${rule.body.id}`, undefined],
    ] as const) {
      const res = await t.request(method, path, { as: t.operator2, body: extra })
      expect(res.status, `${method} ${path}`).toBe(404)
    }
    expect((await t.request('GET', RULES, { as: t.operator2 })).body).toEqual([])
    expect((await t.request('GET', RULES, { as: t.admin })).body).toHaveLength(1)
    expect((await t.request('GET', url, { as: t.admin })).status).toBe(200)
    // An admin may change the rule, but not point it at another user's device: its alerts go to its owner.
    const moved = await t.request('PUT', url, {
      as: t.admin,
      body: { condition: body(theirs.body.id).condition },
    })
    expect(moved.status, moved.text).toBe(400)
    expect(moved.body.errors[0].path).toBe('condition.deviceId')
    // Another owner's device is as unknown as a missing one.
    const foreign = await t.request('POST', RULES, { as: t.operator, body: body(theirs.body.id) })
    expect(foreign.status).toBe(404)
    const viewer = await t.request('POST', RULES, { as: t.viewer, body: body(mine.body.id) })
    expect(viewer.status).toBe(403)
    expect((await t.request('GET', RULES, { as: t.viewer })).body).toEqual([])

    const bad: [Record<string, unknown>, string][] = [
      [
        {
          ...body(mine.body.id),
          condition: { source: 'host', metric: 'cpu.temperature', operator: '>', threshold: 1 },
        },
        'condition.metric',
      ],
      [
        {
          ...body(mine.body.id),
          condition: {
            source: 'host',
            metric: 'cpu.percent',
            operator: '>',
            threshold: 1,
            deviceId: mine.body.id,
          },
        },
        'condition.deviceId',
      ],
      [
        {
          ...body(mine.body.id),
          condition: { source: 'device', metric: 'temperature', operator: '>', threshold: 1 },
        },
        'condition.deviceId',
      ],
      [body(mine.body.id, { clearThreshold: 40 }), 'condition.clearThreshold'],
      [body(mine.body.id, { operator: '=~' }), 'condition.operator'],
      [body(mine.body.id, { threshold: 'hot' }), 'condition.threshold'],
      [body(mine.body.id, { metric: 'temp erature' }), 'condition.metric'],
      [{ ...body(mine.body.id), forSeconds: -1 }, 'forSeconds'],
    ]
    for (const [input, path] of bad) {
      const res = await t.request('POST', RULES, { as: t.operator, body: input })
      expect(res.status, `${path}: ${res.text}`).toBe(400)
      expect(res.headers['content-type']).toMatch(/problem\+json/)
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        res.text,
      ).toContain(path)
    }
    expect((await t.request('GET', RULES, { as: t.operator })).body).toHaveLength(1)
    expect((await t.request('PUT', url, { as: t.operator, body: {} })).status).toBe(400)
    expect((await t.request('POST', `${ALERTS}/nope/acknowledge`, { as: t.operator })).status).toBe(404)

    // A device's rules go with it.
    expect(
      (await t.request('DELETE', `/api/myntrix/devices/${mine.body.id}`, { as: t.operator })).status,
    ).toBe(200)
    expect((await t.request('GET', url, { as: t.operator })).status).toBe(404)
  })
})
