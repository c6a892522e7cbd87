// Device availability on every engine, through the API and real parts: a
// sim://marlin printer whose temperature reports are switched off (M155 S0)
// goes silent and is offline after its availabilityTimeoutMs, back on the next
// byte; an MQTT device on the local Mosquitto is offline the moment the broker
// publishes its last-will on the configured topic. Each change is one
// device.offline / device.online notification, signed, on a real receiver().

import { randomUUID } from 'node:crypto'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EventMap } from '../../../src/events/bus.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { portOpen } from '../../helpers/ports.js'
import { useReceiver } from '../notifications/receiver.js'

const DEVICES = '/api/myntrix/devices'
const BROKER = 'mqtt://127.0.0.1:1883'

const hasBroker = await portOpen(1883)

describe.each(testEngines())('device availability on $name', (engine) => {
  let t: TestApp
  const clients: MqttClient[] = []
  const receiver = useReceiver()

  beforeEach(async () => {
    t = await createTestApp(engine)
  })
  afterEach(async () => {
    await t.dispose()
    for (const c of clients.splice(0)) await c.endAsync(true)
  })

  /** Resolves with the next device.availability event of `deviceId`. */
  function nextAvailability(deviceId: string): Promise<EventMap['device.availability']> {
    return new Promise((resolve) => {
      const off = t.app.myntrix.context.bus.on('device.availability', (e) => {
        if (e.deviceId !== deviceId) return
        off()
        resolve(e)
      })
    })
  }

  async function hook(path: string) {
    const res = await t.request('POST', '/api/myntrix/notification-rules', {
      as: t.admin,
      body: {
        name: path,
        filter: { kinds: ['device.offline', 'device.online'] },
        cooldownSeconds: 0,
        sink: { type: 'webhook', url: `${receiver().url}${path}` },
      },
    })
    expect(res.status, res.text).toBe(201)
    receiver().expectSecret(path, res.body.secret)
  }

  it('a silent sim://marlin is stale after availabilityTimeoutMs and back when it talks again', async () => {
    await hook('/silent')
    const created = await t.request('POST', DEVICES, {
      as: t.operator,
      body: {
        name: 'quiet printer',
        connectionString: 'sim://marlin',
        configuration: {
          temperatureReport: 'autoreport',
          temperatureIntervalMs: 1000,
          availabilityTimeoutMs: 2500,
        },
      },
    })
    expect(created.status, created.text).toBe(201)
    const url = `${DEVICES}/${created.body.id}`
    expect(created.body.stale).toBe(false)
    const connected = await t.request('POST', `${url}/connect`, { as: t.operator })
    expect(connected.status, connected.text).toBe(200)
    expect(connected.body).toMatchObject({ status: 'connected', stale: false })

    const offline = nextAvailability(created.body.id)
    // Auto-reports off: nothing comes from the printer any more.
    const quiet = await t.request('POST', `${url}/command`, { as: t.operator, body: { command: 'M155 S0' } })
    expect(quiet.body.ok, quiet.text).toBe(true)
    const went = await offline
    expect(went).toMatchObject({ stale: true, ownerId: t.operator.id })
    expect(went.reason).toMatch(/^no traffic for \d+ ms$/)
    const row = await t.request('GET', url, { as: t.operator })
    expect(row.body).toMatchObject({ status: 'connected', stale: true })

    const online = nextAvailability(created.body.id)
    const poll = await t.request('POST', `${url}/command`, { as: t.operator, body: { command: 'M105' } })
    expect(poll.body.ok, poll.text).toBe(true)
    expect(await online).toMatchObject({ stale: false, reason: null })
    expect((await t.request('GET', url, { as: t.operator })).body.stale).toBe(false)

    const got = await receiver().waitFor('/silent', 2)
    expect(got.map((r) => [r.body.kind, r.signed])).toEqual([
      ['device.offline', true],
      ['device.online', true],
    ])
    const [offlineSent] = got
    expect(offlineSent?.body.summary).toMatch(/^Device "quiet printer" is offline: no traffic for \d+ ms$/)
    expect(offlineSent?.body.resource).toMatchObject({
      type: 'device',
      id: created.body.id,
      ownerId: t.operator.id,
    })

    // A disconnect is not "offline": the status says it, and no availability event is sent.
    const silentAgain = nextAvailability(created.body.id)
    await t.request('POST', `${url}/command`, { as: t.operator, body: { command: 'M155 S0' } })
    await silentAgain
    await t.request('POST', `${url}/disconnect`, { as: t.operator })
    expect((await t.request('GET', url, { as: t.operator })).body).toMatchObject({
      status: 'disconnected',
      stale: false,
    })
  })

  it.skipIf(!hasBroker)('an MQTT device is offline on its last-will, on a configured topic', async () => {
    await hook('/will')
    const prefix = `myntrix-test/${randomUUID()}`
    const availabilityTopic = `${prefix}-availability/state`
    const startDevice = async () => {
      const client = await connectAsync(BROKER, {
        reconnectPeriod: 0,
        will: { topic: availabilityTopic, payload: Buffer.from('offline'), qos: 1, retain: false },
      })
      clients.push(client)
      await client.publishAsync(availabilityTopic, 'online', { qos: 1 })
      return client
    }
    const far = await startDevice()
    const created = await t.request('POST', DEVICES, {
      as: t.admin,
      body: {
        name: 'mqtt sensor',
        connectionString: `${BROKER}/${prefix}`,
        configuration: { availabilityTopic },
      },
    })
    expect(created.status, created.text).toBe(201)
    const url = `${DEVICES}/${created.body.id}`
    expect((await t.request('POST', `${url}/connect`, { as: t.admin })).body).toMatchObject({
      status: 'connected',
      stale: false,
    })

    const offline = nextAvailability(created.body.id)
    // Gone without a goodbye: the broker publishes the will.
    far.stream.destroy()
    expect(await offline).toMatchObject({ stale: true, reason: 'the device reports it is offline' })
    expect((await t.request('GET', url, { as: t.admin })).body).toMatchObject({ stale: true })

    const online = nextAvailability(created.body.id)
    await startDevice()
    expect(await online).toMatchObject({ stale: false })
    const got = await receiver().waitFor('/will', 2)
    expect(got.map((r) => r.body.kind)).toEqual(['device.offline', 'device.online'])
  })

  it('refuses a bad availability setting with 400 and stores nothing', async () => {
    for (const [configuration, path] of [
      [{ availabilityTimeoutMs: 50 }, 'configuration.availabilityTimeoutMs'],
      [{ availabilityTimeoutMs: -1 }, 'configuration.availabilityTimeoutMs'],
      [{ availabilityTimeoutMs: 'soon' }, 'configuration.availabilityTimeoutMs'],
      [{ availabilityTopic: 'plant/#' }, 'configuration.availabilityTopic'],
    ] as const) {
      const res = await t.request('POST', DEVICES, {
        as: t.operator,
        body: { name: 'bad', connectionString: 'sim://marlin', configuration },
      })
      expect(res.status, res.text).toBe(400)
      expect(res.headers['content-type']).toMatch(/problem\+json/)
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path)
    }
    expect((await t.request('GET', DEVICES, { as: t.operator })).body).toEqual([])
  })
})
