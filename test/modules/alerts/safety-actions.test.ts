// The safety actions the heater test does not cover, against the emulators on
// every engine: cancel-job cancels the print a faulty heater's rule fired on
// (logged on the device and the job), and GRBL's feed hold `!` sent by a rule
// on the machine position holds a running program (the emulator's status
// report says Hold). And the alerts API's owner scoping for acknowledging:
// another owner's alert is 404, a viewer may not acknowledge.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertsArea } from '../../../src/modules/alerts/index.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { jobWhere, upload } from '../device-files/support.js'
import { nextAlertChange } from './support.js'

const RULES = '/api/myntrix/alert-rules'

describe.each(testEngines())('safety actions and acknowledging on $name', (engine) => {
  let t: TestApp

  beforeEach(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_METRICS_INTERVAL_MS: '200' } })
  })
  afterEach(async () => {
    await t.dispose()
  })

  const alerts = () => t.app.myntrix.areas.find((a) => a.name === 'alerts') as AlertsArea

  async function device(connectionString: string, configuration: Record<string, unknown>) {
    const created = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: { name: connectionString, connectionString, configuration },
    })
    expect(created.status, created.text).toBe(201)
    const connected = await t.request('POST', `/api/myntrix/devices/${created.body.id}/connect`, {
      as: t.operator,
    })
    expect(connected.body.status, connected.text).toBe('connected')
    const log: string[] = []
    t.app.myntrix.context.bus.on('device.log', (e) => {
      if (e.deviceId === created.body.id) log.push(`${e.direction} ${e.line}`)
    })
    return { id: created.body.id as string, log }
  }

  async function rule(body: Record<string, unknown>) {
    const created = await t.request('POST', RULES, { as: t.operator, body })
    expect(created.status, created.text).toBe(201)
    return created.body.id as string
  }

  it('cancel-job cancels the print of a heater that does not heat', async () => {
    const printer = await device('sim://marlin', {
      temperatureReport: 'autoreport',
      temperatureIntervalMs: 1000,
      emulator: { heaterFault: true },
    })
    await rule({
      name: 'no heat, cancel',
      condition: {
        source: 'device',
        deviceId: printer.id,
        metric: 'temperature',
        kind: 'no-rise',
        targetMetric: 'targetTemperature',
        delta: 5,
      },
      forSeconds: 3,
      actions: [{ type: 'cancel-job' }],
    })
    const sent = await upload(t, printer.id, 'part.gcode', `M104 S200\n${'G4 P500\n'.repeat(60)}`)
    expect(sent.status, sent.text).toBe(202)
    const jobId = sent.body.job.id as string
    const cancelled = await jobWhere(t, jobId, (j) => j.status === 'cancelled')
    expect(cancelled.status).toBe('cancelled')
    await alerts().safety.settled()
    expect(printer.log).toContainEqual(
      expect.stringMatching(
        new RegExp(`^info alert "no heat, cancel" .* fired at [\\d.]+: cancelled job ${jobId}$`),
      ),
    )
    const job = await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })
    expect(job.body.logs).toMatch(/alert "no heat, cancel" .*: cancelled job /)
  })

  it('send-command "!" holds a running GRBL program when the machine passes a position', async () => {
    const mill = await device('sim://grbl', {})
    const ruleId = await rule({
      name: 'past X 5',
      condition: { source: 'device', deviceId: mill.id, metric: 'machineX', operator: '>', threshold: 5 },
      actions: [{ type: 'send-command', command: '!' }],
    })
    const fired = nextAlertChange(t.app.myntrix.context.bus, ruleId, 'firing')
    const states: string[] = []
    t.app.myntrix.context.bus.on('device.telemetry', (e) => {
      if (e.deviceId === mill.id && typeof e.readings.state === 'string') states.push(e.readings.state)
    })
    // The move is instant in the emulator; the dwell after it keeps the program running.
    const sent = await upload(t, mill.id, 'part.nc', 'G21\nG90\nG1 X10 F1000\nG4 P4\nG4 P4\n')
    expect(sent.status, sent.text).toBe(202)
    await fired
    await alerts().safety.settled()
    expect(mill.log).toContainEqual(
      expect.stringMatching(/^info alert "past X 5" .* fired at 10: sent !: ok$/),
    )
    await waitFor(() => states.includes('Hold'), { what: 'a status report saying Hold', timeoutMs: 8000 })
    await t.request('POST', `/api/myntrix/jobs/${sent.body.job.id}/cancel`, { as: t.operator })
  })

  it('acknowledging: another owner’s alert is 404, a viewer is refused, the owner may', async () => {
    const ruleId = await rule({
      name: 'memory',
      condition: { source: 'host', metric: 'memory.percent', operator: '>=', threshold: 0 },
    })
    const fired = await nextAlertChange(t.app.myntrix.context.bus, ruleId, 'firing')
    await alerts().recorder.settled()
    const ack = `/api/myntrix/alerts/${fired.id}/acknowledge`
    expect((await t.request('POST', ack, { as: t.operator2 })).status).toBe(404)
    expect((await t.request('POST', ack, { as: t.viewer })).status).toBe(403)
    const own = await t.request('POST', ack, { as: t.operator })
    expect(own.status, own.text).toBe(200)
    expect(own.body).toMatchObject({ state: 'firing', acknowledgedBy: t.operator.id })
  })
})
