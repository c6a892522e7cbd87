// The heater rule over a real serial line on every engine: a Marlin emulator
// in its own process on one end of a socat pty pair, the server's serial
// connection on the other. The emulator's `heater-fault` hook breaks the
// heater; the print's M104 S200 sets a target the hotend never approaches; the
// no-rise rule fires, pauses the print and sends M104 S0, which the emulator
// receives over the wire.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertsArea } from '../../../src/modules/alerts/index.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../../helpers/pty.js'
import { jobWhere, serialDevice, upload } from '../device-files/support.js'
import { EmulatorProcess } from '../devices/support.js'

describe.skipIf(!hasSocat).each(testEngines())('a heater fault over a pty on $name', (engine) => {
  let t: TestApp
  let dir: string
  let pty: PtyPair | null = null
  let emulator: EmulatorProcess | null = null

  beforeEach(async () => {
    t = await createTestApp(engine)
    dir = makePtyDir()
  })
  afterEach(async () => {
    await t.dispose()
    await emulator?.kill()
    await pty?.stop()
    removePtyDir(dir)
  })

  it('the no-rise rule pauses the print and turns the heater off on the wire', async () => {
    pty = await startPtyPair(dir)
    emulator = await EmulatorProcess.start('pty-emulator.ts', ['marlin', pty.emulatorPath, '{}'])
    await emulator.hook('heater-fault')
    const id = await serialDevice(t, dir, 'marlin', 'usb printer', {
      temperatureReport: 'autoreport',
      temperatureIntervalMs: 1000,
    })
    const rule = await t.request('POST', '/api/myntrix/alert-rules', {
      as: t.operator,
      body: {
        name: 'usb hotend does not heat',
        condition: {
          source: 'device',
          deviceId: id,
          metric: 'temperature',
          kind: 'no-rise',
          targetMetric: 'targetTemperature',
          delta: 5,
        },
        forSeconds: 3,
        actions: [{ type: 'pause-job' }, { type: 'send-command', command: 'M104 S0' }],
      },
    })
    expect(rule.status, rule.text).toBe(201)
    const sent = await upload(t, id, 'part.gcode', `M104 S200\n${'G4 P500\n'.repeat(60)}`)
    expect(sent.status, sent.text).toBe(202)
    const jobId = sent.body.job.id as string
    const paused = await jobWhere(t, jobId, (j) => j.details?.paused === true)
    expect(paused.status).toBe('running')
    await (t.app.myntrix.areas.find((a) => a.name === 'alerts') as AlertsArea).safety.settled()
    // The heater-off command reached the firmware, after the print's own M104 S200.
    await waitFor(() => emulator!.received().some((l) => /M104 S0\b/.test(l)), {
      what: 'M104 S0 on the wire',
    })
    const lines = emulator.received()
    expect(lines.findIndex((l) => /M104 S200\b/.test(l))).toBeLessThan(
      lines.findIndex((l) => /M104 S0\b/.test(l)),
    )
    const alerts = await t.request('GET', `/api/myntrix/alerts?ruleId=${rule.body.id}`, { as: t.operator })
    expect(alerts.body[0]).toMatchObject({ state: 'firing', resourceType: 'device', resourceId: id })
    const job = await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })
    expect(job.body.logs).toMatch(/alert "usb hotend does not heat" .*: paused job /)
    expect((await t.request('POST', `/api/myntrix/jobs/${jobId}/cancel`, { as: t.operator })).status).toBe(
      200,
    )
  })
})
