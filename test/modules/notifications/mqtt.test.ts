// The MQTT sink against the local Mosquitto (127.0.0.1:1883): a subscriber
// receives the notification published with QoS 1, for a test and for a real
// event (a sim:// device connecting); a broker that is not there fails the
// attempt with the connection error.

import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'

const RULES = '/api/myntrix/notification-rules'
const BROKER = 'mqtt://127.0.0.1:1883'

describe.each(testEngines())('MQTT notifications on $name', (engine) => {
  let t: TestApp
  let subscriber: MqttClient
  const messages: { topic: string; text: string; qos: number }[] = []
  const waiters: (() => void)[] = []
  const topic = `myntrix-test/notify-${engine.name}-${process.pid}`

  beforeEach(async () => {
    t = await createTestApp(engine)
    messages.length = 0
    subscriber = await connectAsync(BROKER, { reconnectPeriod: 0 })
    subscriber.on('message', (tp, payload, packet) => {
      messages.push({ topic: tp, text: payload.toString('utf8'), qos: packet.qos })
      for (const w of waiters.splice(0)) w()
    })
    await subscriber.subscribeAsync(`${topic}/#`, { qos: 1 })
  })
  afterEach(async () => {
    await subscriber.endAsync(true)
    await t.dispose()
  })

  const nextMessage = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (messages.length >= n ? resolve() : waiters.push(check))
      check()
    })

  it('publishes a test notification and a real event with QoS 1', async () => {
    const rule = await t.request('POST', RULES, {
      as: t.admin,
      body: {
        name: 'home assistant',
        filter: { kinds: ['device.connected'] },
        cooldownSeconds: 0,
        sink: { type: 'mqtt', url: BROKER, topic: `${topic}/alerts` },
      },
    })
    expect(rule.status, rule.text).toBe(201)
    expect(rule.body.secret).toBeUndefined()

    const test = await t.request('POST', `${RULES}/${rule.body.id}/test`, { as: t.admin })
    expect(test.body).toMatchObject({
      status: 'delivered',
      attempts: 1,
      lastStatusCode: null,
      attemptLog: [{ outcome: 'delivered', error: null }],
    })
    await nextMessage(1)
    expect(messages[0]?.topic).toBe(`${topic}/alerts`)
    expect(messages[0]?.qos).toBe(1)
    expect(JSON.parse(messages[0]?.text ?? 'null')).toMatchObject({
      kind: 'notification.test',
      rule: { id: rule.body.id },
    })

    const device = await t.request('POST', '/api/myntrix/devices', {
      as: t.admin,
      body: { name: 'mk4', connectionString: 'sim://marlin' },
    })
    await t.request('POST', `/api/myntrix/devices/${device.body.id}/connect`, { as: t.admin })
    await nextMessage(2)
    expect(JSON.parse(messages[1]?.text ?? 'null')).toMatchObject({
      kind: 'device.connected',
      resource: { type: 'device', id: device.body.id, name: 'mk4' },
    })
  })

  it('records the connection error of a broker that is not there', async () => {
    const rule = await t.request('POST', RULES, {
      as: t.admin,
      body: {
        name: 'nowhere',
        filter: { kinds: ['device.error'] },
        sink: { type: 'mqtt', url: 'mqtt://127.0.0.1:1', topic: `${topic}/none` },
      },
    })
    const res = await t.request('POST', `${RULES}/${rule.body.id}/test`, { as: t.admin })
    expect(res.body).toMatchObject({ status: 'failed', attempts: 1 })
    expect(res.body.lastError).toMatch(/^mqtt: .*ECONNREFUSED/)
  })
})
