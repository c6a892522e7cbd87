// Transfers through the API to emulators behind real socat pseudo-terminals
// and the real serialport stack: what an operator with a USB printer sees.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { JobEventPayload } from '../../../src/events/bus.js'
import type { DeviceFilesArea } from '../../../src/modules/device-files/index.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../../helpers/pty.js'
import { EmulatorProcess } from '../devices/support.js'
import { gcode, jobFinished, jobWhere, serialDevice, upload } from './support.js'

if (!hasSocat) console.warn('skipping device-files transfer tests over ptys: socat is not installed')

describe.skipIf(!hasSocat).each(testEngines())('transfers over a pty on $name', (engine) => {
  let t: TestApp
  let dir: string
  let pty: PtyPair | null
  let emulator: EmulatorProcess | null
  const sockets: WebSocket[] = []

  beforeEach(async () => {
    t = await createTestApp(engine)
    dir = makePtyDir()
    pty = null
    emulator = null
  })
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.terminate()
    await t.dispose()
    await emulator?.kill()
    await pty?.stop()
    removePtyDir(dir)
  })

  async function printer(firmware: 'marlin' | 'grbl' = 'marlin') {
    pty = await startPtyPair(dir)
    emulator = await EmulatorProcess.start('pty-emulator.ts', [firmware, pty.emulatorPath, '{}'])
    return serialDevice(t, dir, firmware)
  }

  const moves = () => emulator!.received().filter((l) => l.startsWith('G1'))

  it('streams a 2,000-line file: progress rises to 100, every line arrives in order, job messages on the WebSocket', async () => {
    const id = await printer()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = t.app.server.address() as { port: number }
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/myntrix/telemetry/${id}?token=${t.operator.token}`)
    sockets.push(ws)
    const jobMessages: { payload: JobEventPayload }[] = []
    ws.on('message', (data) => {
      const m = JSON.parse(String(data))
      if (m.type === 'job') jobMessages.push(m)
    })
    await new Promise((resolve) => ws.once('message', resolve))

    const file = gcode(2000)
    const progress: number[] = []
    const off = t.app.myntrix.context.bus.on('job.updated', ({ job }) => progress.push(job.progress))
    const res = await upload(t, id, 'benchy.gcode', file.text)
    expect(res.status).toBe(202)
    const job = await jobFinished(t, res.body.job.id, 60_000)
    off()
    expect(job).toMatchObject({ status: 'completed', progress: 100, details: { linesAcknowledged: 2000 } })
    expect(progress.at(-1)).toBe(100)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    expect(progress.some((p) => p > 0 && p < 100)).toBe(true)
    await emulator!.waitForLine(new RegExp(`^rx ${file.moves[1999]}$`))
    expect(moves()).toEqual(file.moves)
    const last = await new Promise<{ payload: JobEventPayload }>((resolve) => {
      const check = () => {
        const m = jobMessages.find((x) => x.payload.status === 'completed')
        if (m) resolve(m)
        else ws.once('message', check)
      }
      check()
    })
    expect(last.payload).toMatchObject({ id: res.body.job.id, progress: 100 })
  })

  it('the device is free for the next file by the time the job says it is done', async () => {
    const id = await printer()
    const { service } = t.app.myntrix.areas.find((a) => a.name === 'device-files') as DeviceFilesArea
    // Read in the listener itself: whoever sees the final status may send the next file at once.
    const busyAtEnd: boolean[] = []
    const off = t.app.myntrix.context.bus.on('job.updated', ({ job }) => {
      if (job.status === 'completed') busyAtEnd.push(service.activeTransfer(id) !== undefined)
    })
    try {
      const first = await upload(t, id, 'one.gcode', gcode(20).text)
      expect((await jobFinished(t, first.body.job.id)).status).toBe('completed')
      const second = await upload(t, id, 'two.gcode', gcode(5).text)
      expect(second.status).toBe(202)
      expect((await jobFinished(t, second.body.job.id)).status).toBe('completed')
      expect(busyAtEnd).toEqual([false, false])
    } finally {
      off()
    }
  })

  it('cancel mid-stream stops within one line', async () => {
    const id = await printer()
    const file = gcode(2000)
    const res = await upload(t, id, 'long.gcode', file.text)
    const jobId = res.body.job.id
    await jobWhere(
      t,
      jobId,
      (j) => ((j.details as { linesAcknowledged?: number })?.linesAcknowledged ?? 0) > 100,
    )
    const cancel = await t.request('POST', `/api/myntrix/jobs/${jobId}/cancel`, { as: t.operator })
    expect(cancel.status).toBe(200)
    const job = await jobFinished(t, jobId)
    expect(job.status).toBe('cancelled')
    const acked = (job.details as { linesAcknowledged: number; linesSent: number }).linesAcknowledged
    expect((job.details as { linesSent: number }).linesSent).toBe(acked)
    expect(acked).toBeLessThan(2000)
    // Nothing after the acknowledged lines reached the firmware.
    const rx = moves()
    expect(rx).toEqual(file.moves.slice(0, acked))
    // The device answers commands again.
    const cmd = await t.request('POST', `/api/myntrix/devices/${id}/command`, {
      as: t.operator,
      body: { command: 'M114' },
    })
    expect(cmd.status).toBe(200)
  })

  it('the emulator dying mid-stream interrupts the job with the reason, the last acknowledged line and its checkpoint', async () => {
    const id = await printer()
    const file = gcode(2000)
    const res = await upload(t, id, 'long.gcode', file.text)
    const jobId = res.body.job.id
    await jobWhere(
      t,
      jobId,
      (j) => ((j.details as { linesAcknowledged?: number })?.linesAcknowledged ?? 0) > 100,
    )
    await emulator!.kill()
    await pty!.stop()
    const job = await jobFinished(t, jobId)
    expect(job.status).toBe('interrupted')
    const full = await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })
    expect(full.body.error).toMatch(/last acknowledged: line \d+ "G1 /)
    expect(full.body.details.reason).toMatch(/disconnected|timeout/)
    expect(full.body.details.lastAcknowledgedLine).toBeGreaterThan(100)
    expect(full.body.checkpoint.lastAckedLine).toBe(full.body.details.lastAcknowledgedLine)
    // The device is free for a new transfer once it is back (409 now: not connected).
    expect((await upload(t, id, 'again.gcode', 'G28\n')).status).toBe(409)
  })

  it('grbl: a refused line fails the job and lists its error once', async () => {
    const id = await printer('grbl')
    const res = await upload(t, id, 'bad.nc', 'G0 X1\nG5 X2\nG0 X3\n')
    const job = await jobFinished(t, res.body.job.id)
    expect(job.status).toBe('failed')
    const full = await t.request('GET', `/api/myntrix/jobs/${res.body.job.id}`, { as: t.operator })
    expect(full.body.details.reason).toBe('firmware')
    // The streamer recorded the refusal; the transfer used to append the same message again.
    expect(full.body.details.errors).toEqual([expect.stringMatching(/^line 2 "G5 X2" failed: error:20/)])
  })

  it('grbl: a 2,000-line file with character counting arrives in order', async () => {
    const id = await printer('grbl')
    const file = gcode(2000)
    const res = await upload(t, id, 'part.nc', file.text)
    const job = await jobFinished(t, res.body.job.id, 60_000)
    expect(job).toMatchObject({ status: 'completed', progress: 100 })
    await emulator!.waitForLine(new RegExp(`^rx ${file.moves[1999]?.replace(/\s/g, '')}$`))
    expect(moves()).toEqual(file.moves.map((m) => m.replace(/\s/g, '')))
  })
})
