// A heater that does not heat, end to end on every engine: a sim://marlin
// printer whose emulator has a heater fault is told to heat (M104 S200) and
// stays at ambient; a no-rise rule fires and its alert.firing reaches a real
// webhook receiver, signed. The same rule on a healthy printer records the
// heat-up as pending then ok, and sends nothing.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertEventPayload } from '../../../src/events/bus.js'
import type { NotificationsArea } from '../../../src/modules/notifications/index.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { useReceiver } from '../notifications/receiver.js'
import { nextAlertChange } from './support.js'

describe.each(testEngines())('a heater that does not heat on $name', (engine) => {
  let t: TestApp
  const receiver = useReceiver()

  beforeEach(async () => {
    t = await createTestApp(engine)
  })
  afterEach(async () => {
    await t.dispose()
  })

  async function printer(name: string, emulator: Record<string, unknown>) {
    const created = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: {
        name,
        connectionString: 'sim://marlin',
        configuration: { temperatureReport: 'autoreport', temperatureIntervalMs: 1000, emulator },
      },
    })
    expect(created.status, created.text).toBe(201)
    const connected = await t.request('POST', `/api/myntrix/devices/${created.body.id}/connect`, {
      as: t.operator,
    })
    expect(connected.body.status, connected.text).toBe('connected')
    const rule = await t.request('POST', '/api/myntrix/alert-rules', {
      as: t.operator,
      body: {
        name: `${name} does not heat`,
        condition: {
          source: 'device',
          deviceId: created.body.id,
          metric: 'temperature',
          kind: 'no-rise',
          targetMetric: 'targetTemperature',
          delta: 5,
        },
        forSeconds: 3,
      },
    })
    expect(rule.status, rule.text).toBe(201)
    return { id: created.body.id as string, ruleId: rule.body.id as string }
  }

  const nextChange = (ruleId: string, state: AlertEventPayload['state']) =>
    nextAlertChange(t.app.myntrix.context.bus, ruleId, state)

  it('fires the no-rise rule for the faulty heater only', async () => {
    // An admin's rule: operators may not send to loopback, where the receiver listens.
    const adminHook = await t.request('POST', '/api/myntrix/notification-rules', {
      as: t.admin,
      body: {
        name: 'all alerts',
        filter: { kinds: ['alert.firing'] },
        cooldownSeconds: 0,
        sink: { type: 'webhook', url: `${receiver().url}/heater` },
      },
    })
    receiver().expectSecret('/heater', adminHook.body.secret)
    const faulty = await printer('faulty', { heaterFault: true })
    const healthy = await printer('healthy', {})

    const healthyOk = nextChange(healthy.ruleId, 'ok')
    const firing = nextChange(faulty.ruleId, 'firing')
    for (const p of [faulty, healthy]) {
      const res = await t.request('POST', `/api/myntrix/devices/${p.id}/command`, {
        as: t.operator,
        body: { command: 'M104 S200' },
      })
      expect(res.body.ok, res.text).toBe(true)
    }
    const fired = await firing
    expect(fired).toMatchObject({ kind: 'no-rise', deviceId: faulty.id, ownerId: t.operator.id })
    expect(fired.value).toBeLessThan(26)
    await healthyOk

    const [got] = await receiver().waitFor('/heater', 1)
    expect(got.signed).toBe(true)
    expect(got.body).toMatchObject({
      kind: 'alert.firing',
      resource: { type: 'alert', id: faulty.ruleId, ownerId: t.operator.id },
      details: { deviceId: faulty.id, deviceName: 'faulty', kind: 'no-rise', delta: 5 },
    })
    expect(got.body.summary).toMatch(
      /^Alert "faulty does not heat" is firing: temperature of device "faulty" is [\d.]+ \(no rise of 5 within 3 s of a new targetTemperature\)$/,
    )
    const healthyAlerts = await t.request('GET', `/api/myntrix/alerts?ruleId=${healthy.ruleId}`, {
      as: t.operator,
    })
    expect(healthyAlerts.body.map((a: any) => a.state)).toEqual(['ok'])
    await (t.app.myntrix.areas.find((a) => a.name === 'notifications') as NotificationsArea).source.settled()
    expect(receiver().to('/heater')).toHaveLength(1)
  })
})
