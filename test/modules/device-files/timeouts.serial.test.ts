// Per-command timeouts and Marlin stall detection, through the API to
// emulators behind real socat ptys: a silent M109 inside its configured
// timeout finishes, a shorter configured one interrupts the job, a frozen
// printer is asked M105, raises device.stalled and ends interrupted with its
// checkpoint, and a long command of the table is never taken for a stall.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../../helpers/pty.js'
import { EmulatorProcess } from '../devices/support.js'
import { jobFinished, serialDevice, upload } from './support.js'

if (!hasSocat) console.warn('skipping command timeout tests over ptys: socat is not installed')

describe.skipIf(!hasSocat).each(testEngines())('command timeouts and stalls on $name', (engine) => {
  let t: TestApp
  let dir: string
  let pty: PtyPair | null
  let emulator: EmulatorProcess | null
  let stalls: string[]
  let offStalled: () => void

  beforeEach(async () => {
    t = await createTestApp(engine)
    dir = makePtyDir()
    pty = null
    emulator = null
    stalls = []
    offStalled = t.app.myntrix.context.bus.on('device.stalled', (e) => stalls.push(e.message))
  })
  afterEach(async () => {
    offStalled()
    await t.dispose()
    await emulator?.kill()
    await pty?.stop()
    removePtyDir(dir)
  })

  /** A Marlin printer that heats at 100 °C/s: M109 S200 from 21 °C takes about 1.8 s. */
  async function plug(firmware: 'marlin' | 'grbl', options: Record<string, unknown> = {}) {
    pty = await startPtyPair(dir)
    emulator = await EmulatorProcess.start('pty-emulator.ts', [
      firmware,
      pty.emulatorPath,
      JSON.stringify(options),
    ])
  }

  async function send(id: string, name: string, text: string) {
    const res = await upload(t, id, name, text)
    expect(res.status).toBe(202)
    const job = await jobFinished(t, res.body.job.id, 30_000)
    return (await t.request('GET', `/api/myntrix/jobs/${job.id}`, { as: t.operator })).body
  }

  const HEAT = 'G1 X1\nM109 S200\nG1 X2\nG1 X3\n'

  it('a silent M109 longer than the line timeout but inside its configured one does not fail the job', async () => {
    await plug('marlin', { heatRatePerS: 100 })
    await emulator!.hook('silent-heating')
    const id = await serialDevice(t, dir, 'marlin', 'printer', {
      commandTimeouts: { default: 600, M109: 8000 },
      stallTimeoutMs: 200,
    })
    const started = Date.now()
    const job = await send(id, 'heat.gcode', HEAT)
    expect(job.status).toBe('completed')
    // The heating took longer than the line timeout (600 ms) with nothing on the wire.
    expect(Date.now() - started).toBeGreaterThan(1500)
    expect(emulator!.received().slice(-4)).toEqual(['G1 X1', 'M109 S200', 'G1 X2', 'G1 X3'])
    // A command of the table is never a stall, however short stallTimeoutMs is.
    expect(stalls).toEqual([])
  })

  it('a shorter configured M109 timeout ends the job interrupted at that line', async () => {
    await plug('marlin', { heatRatePerS: 100 })
    await emulator!.hook('silent-heating')
    const id = await serialDevice(t, dir, 'marlin', 'printer', { commandTimeouts: { M109: 400 } })
    const job = await send(id, 'heat.gcode', HEAT)
    expect(job.status).toBe('interrupted')
    expect(job.details.reason).toBe('timeout')
    expect(job.error).toMatch(/M109 S200/)
    expect(job.error).toMatch(/400 ms/)
    expect(job.error).toMatch(/; last acknowledged: line 1 "G1 X1"$/)
    expect(job.checkpoint.lastAckedLine).toBe(1)
    expect(job.checkpoint.fileOffset).toBe('G1 X1\n'.length)
    expect(job.checkpoint.modalState.hotends).toEqual({})
  })

  it('marlin stall: a frozen printer is asked M105, raises device.stalled and interrupts with its checkpoint', async () => {
    await plug('marlin')
    const id = await serialDevice(t, dir, 'marlin', 'printer', { stallTimeoutMs: 300 })
    const lines = Array.from({ length: 20 }, (_, i) => `G1 X${i + 1} F3000`)
    // Lines 1-5 are read and answered; the controller freezes on line 6.
    await emulator!.hook('hang', '5')
    const job = await send(id, 'part.gcode', `${lines.join('\n')}\n`)
    expect(job.status).toBe('interrupted')
    expect(job.details.reason).toBe('timeout')
    expect(job.error).toMatch(
      /^the stream stalled: nothing answered for two waits of 300 ms with a line in flight; last acknowledged: line 5 "G1 X5 F3000"$/,
    )
    expect(job.checkpoint.lastAckedLine).toBe(5)
    expect(job.checkpoint.fileOffset).toBe(lines.slice(0, 5).join('\n').length + 1)
    expect(job.checkpoint.modalState.x).toBe(5)
    expect(stalls).toEqual(['the printer answered nothing for 300 ms with a line in flight; sent M105'])
    expect(job.logs).toContain('stalled: the printer answered nothing for 300 ms')
    expect(emulator!.received().slice(-5)).toEqual(lines.slice(0, 5))
  })

  it('marlin: a lost ok is recovered by the M105 after the first wait, and the job completes', async () => {
    await plug('marlin')
    const id = await serialDevice(t, dir, 'marlin', 'printer', { stallTimeoutMs: 300 })
    await emulator!.hook('mute')
    const job = await send(id, 'part.gcode', 'G1 X1\nG1 X2\nG1 X3\n')
    expect(job.status).toBe('completed')
    expect(stalls).toHaveLength(1)
    expect(emulator!.received().slice(-4)).toEqual(['G1 X1', 'M105', 'G1 X2', 'G1 X3'])
  })

  it('grbl: a silent dwell of the table longer than the stall timeout is not a stall', async () => {
    await plug('grbl')
    const id = await serialDevice(t, dir, 'grbl', 'mill', { stallTimeoutMs: 200, statusPollMs: 0 })
    const job = await send(id, 'dwell.nc', 'G0 X1\nG4 P1\nG0 X2\n')
    expect(job.status).toBe('completed')
    expect(stalls).toEqual([])
  })

  it('refuses bad commandTimeouts with 400 and stores nothing', async () => {
    const bad = [
      [{ G28: 0 }, 'configuration.commandTimeouts.G28'],
      [{ M109: '1000' }, 'configuration.commandTimeouts.M109'],
      [{ M109: 86_400_001 }, 'configuration.commandTimeouts.M109'],
      [{ g28: 1000 }, 'configuration.commandTimeouts'],
      [{ 'G1 X': 1000 }, 'configuration.commandTimeouts'],
      [[1000], 'configuration.commandTimeouts'],
    ] as const
    for (const [commandTimeouts, path] of bad) {
      const res = await t.request('POST', '/api/myntrix/devices', {
        as: t.operator,
        body: { name: 'p', connectionString: 'sim://marlin', configuration: { commandTimeouts } },
      })
      expect(res.status, JSON.stringify(commandTimeouts)).toBe(400)
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path)
    }
    const list = await t.request('GET', '/api/myntrix/devices', { as: t.operator })
    expect(list.body).toEqual([])
    const good = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: {
        name: 'p',
        connectionString: 'sim://marlin',
        configuration: { commandTimeouts: { G28: 600_000, 'G38.2': 120_000, default: 30_000 } },
      },
    })
    expect(good.status).toBe(201)
    expect(good.body.configuration.commandTimeouts).toEqual({
      G28: 600_000,
      'G38.2': 120_000,
      default: 30_000,
    })
  })
})
