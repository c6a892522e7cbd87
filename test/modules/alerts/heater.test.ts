// A heater that does not heat, end to end on every engine: a sim://marlin
// printer whose emulator has a heater fault is told to heat (M104 S200) and
// stays at ambient; a no-rise rule fires and its alert.firing reaches a real
// webhook receiver, signed. The same rule on a healthy printer records the
// heat-up as pending then ok, and sends nothing.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertEventPayload } from '../../../src/events/bus.js'
import type { AlertsArea } from '../../../src/modules/alerts/index.js'
import type { NotificationsArea } from '../../../src/modules/notifications/index.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { jobWhere, upload } from '../device-files/support.js'
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

  async function printer(name: string, emulator: Record<string, unknown>, actions: unknown[] = []) {
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
        actions,
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
    expect(got?.signed).toBe(true)
    expect(got?.body).toMatchObject({
      kind: 'alert.firing',
      resource: { type: 'alert', id: faulty.ruleId, ownerId: t.operator.id },
      details: { deviceId: faulty.id, deviceName: 'faulty', kind: 'no-rise', delta: 5 },
    })
    expect(got?.body.summary).toMatch(
      /^Alert "faulty does not heat" is firing: temperature of device "faulty" is [\d.]+ \(no rise of 5 within 3 s of a new targetTemperature\)$/,
    )
    const healthyAlerts = await t.request('GET', `/api/myntrix/alerts?ruleId=${healthy.ruleId}`, {
      as: t.operator,
    })
    expect(healthyAlerts.body.map((a: any) => a.state)).toEqual(['ok'])
    await (t.app.myntrix.areas.find((a) => a.name === 'notifications') as NotificationsArea).source.settled()
    expect(receiver().to('/heater')).toHaveLength(1)
  })

  it('pauses the running print and turns the heater off (pause-job, send-command), logged on the device and the job', async () => {
    const faulty = await printer('faulty', { heaterFault: true }, [
      { type: 'pause-job' },
      { type: 'send-command', command: 'M104 S0' },
    ])
    const deviceLog: string[] = []
    t.app.myntrix.context.bus.on('device.log', (e) => {
      if (e.deviceId === faulty.id) deviceLog.push(`${e.direction} ${e.line}`)
    })
    // The print heats the hotend, then dwells: long enough to be running when the rule fires.
    const print = `M104 S200\n${'G4 P500\n'.repeat(60)}`
    const sent = await upload(t, faulty.id, 'part.gcode', print)
    expect(sent.status, sent.text).toBe(202)
    const jobId = sent.body.job.id as string
    const paused = await jobWhere(t, jobId, (j) => j.details?.paused === true)
    expect(paused.status).toBe('running')
    await (t.app.myntrix.areas.find((a) => a.name === 'alerts') as AlertsArea).safety.settled()
    expect(deviceLog).toContainEqual(
      expect.stringMatching(/^info alert "faulty does not heat" .* fired at [\d.]+: paused job /),
    )
    expect(deviceLog).toContainEqual(expect.stringMatching(/: sent M104 S0: ok$/))
    expect(deviceLog).toContainEqual(expect.stringMatching(/^out N\d+ M104 S0\*\d+$/))
    const job = await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })
    expect(job.body.logs).toMatch(/alert "faulty does not heat" .*: paused job /)
    const cancel = await t.request('POST', `/api/myntrix/jobs/${jobId}/cancel`, { as: t.operator })
    expect(cancel.status, cancel.text).toBe(200)
  })

  it('a rule of a former admin on another user’s device takes no action', async () => {
    const made = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username: 'admin2', password: 'admin2-password-1', role: 'admin' },
    })
    expect(made.status, made.text).toBe(201)
    const login = await t.request('POST', '/api/auth/token', {
      body: { username: 'admin2', password: 'admin2-password-1' },
    })
    const admin2 = {
      id: made.body.id as string,
      username: 'admin2',
      token: login.body.access_token as string,
    }
    const device = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: {
        name: 'their printer',
        connectionString: 'sim://marlin',
        configuration: {
          temperatureReport: 'autoreport',
          temperatureIntervalMs: 1000,
          emulator: { heaterFault: true },
        },
      },
    })
    const url = `/api/myntrix/devices/${device.body.id}`
    expect((await t.request('POST', `${url}/connect`, { as: t.operator })).status).toBe(200)
    const rule = await t.request('POST', '/api/myntrix/alert-rules', {
      as: admin2,
      body: {
        name: 'cold hotend',
        condition: {
          source: 'device',
          deviceId: device.body.id,
          metric: 'temperature',
          kind: 'no-rise',
          targetMetric: 'targetTemperature',
          delta: 5,
        },
        forSeconds: 2,
        actions: [{ type: 'send-command', command: 'M104 S0' }],
      },
    })
    expect(rule.status, rule.text).toBe(201)
    const demoted = await t.request('PUT', `/api/auth/users/${admin2.id}`, {
      as: t.admin,
      body: { role: 'operator' },
    })
    expect(demoted.status, demoted.text).toBe(200)
    const deviceLog: string[] = []
    t.app.myntrix.context.bus.on('device.log', (e) => {
      if (e.deviceId === device.body.id) deviceLog.push(`${e.direction} ${e.line}`)
    })
    const firing = nextChange(rule.body.id, 'firing')
    await t.request('POST', `${url}/command`, { as: t.operator, body: { command: 'M104 S200' } })
    await firing
    await (t.app.myntrix.areas.find((a) => a.name === 'alerts') as AlertsArea).safety.settled()
    expect(deviceLog).toContainEqual(
      expect.stringMatching(/actions not taken, the rule's owner may no longer act/),
    )
    expect(deviceLog.filter((l) => /M104 S0/.test(l) && l.startsWith('out'))).toEqual([])
  })

  it('refuses actions on host rules and a send-command without a command', async () => {
    for (const [body, path] of [
      [
        {
          name: 'x',
          condition: { source: 'host', metric: 'cpu.percent', operator: '>', threshold: 90 },
          actions: [{ type: 'pause-job' }],
        },
        'actions.0',
      ],
      [
        {
          name: 'x',
          condition: { source: 'device', deviceId: 'd', metric: 'temperature', operator: '>', threshold: 90 },
          actions: [{ type: 'pause-job' }, { type: 'send-command' }],
        },
        'actions.1.command',
      ],
      [
        {
          name: 'x',
          condition: { source: 'device', deviceId: 'd', metric: 'temperature', operator: '>', threshold: 90 },
          actions: [{ type: 'shutdown' }],
        },
        'actions.0.type',
      ],
    ] as const) {
      const res = await t.request('POST', '/api/myntrix/alert-rules', { as: t.operator, body })
      expect(res.status, res.text).toBe(400)
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        res.text,
      ).toContain(path)
    }
  })
})
