// The connection actor against the in-process emulators (sim://): the same
// code path as a serial port, minus the kernel.

import { afterEach, describe, expect, it } from 'vitest'
import { DeviceConnection } from '../../../src/modules/devices/connection.js'
import { parseConnectionString } from '../../../src/modules/devices/connection-string.js'
import type { GrblEmulator, MarlinEmulator } from '../../../src/modules/devices/sim/index.js'
import { transports } from '../../../src/modules/devices/transports/index.js'
import type { SimTransport } from '../../../src/modules/devices/transports/sim.js'
import type { TransportFactory } from '../../../src/modules/devices/transports/types.js'
import { Recorder } from './support.js'

const open: DeviceConnection[] = []
afterEach(async () => {
  for (const c of open.splice(0)) await c.disconnect()
})

/** A sim connection whose transport the test can reach (hooks, unplug). */
function simConnection(firmware: 'marlin' | 'grbl', configuration: Record<string, unknown> = {}) {
  const recorder = new Recorder()
  const made: SimTransport[] = []
  const sim: TransportFactory = {
    create: (target, config) => {
      const t = transports.sim.create(target, config) as SimTransport
      made.push(t)
      return t
    },
  }
  const connection = new DeviceConnection({
    label: `sim-${firmware}`,
    target: parseConnectionString(`sim://${firmware}`),
    configuration,
    listener: recorder,
    transports: { ...transports, sim },
  })
  open.push(connection)
  return { connection, recorder, transport: () => made.at(-1)! }
}

describe('sim://marlin', () => {
  it('connects, learns the firmware version and answers commands with ok', async () => {
    const { connection, recorder } = simConnection('marlin', { temperatureReport: 'off' })
    await connection.connect()
    expect(connection.status).toBe('connected')
    expect(connection.firmwareVersion).toMatch(/^Marlin 2\.1/)
    expect(recorder.firmwareVersions).toEqual([connection.firmwareVersion])
    const result = await connection.command('G1 X10 Y20 Z5')
    expect(result).toMatchObject({ ok: true, message: 'ok', response: ['ok'] })
    const position = await connection.command('M114')
    expect(position.response[0]).toMatch(/^X:10\.00 Y:20\.00 Z:5\.00/)
    expect(connection.telemetry).toMatchObject({ positionX: 10, positionY: 20, positionZ: 5 })
  })

  it('sends line numbers with checksums and honours a Resend request', async () => {
    const { connection, recorder, transport } = simConnection('marlin', { temperatureReport: 'off' })
    await connection.connect()
    const emulator = transport().device as MarlinEmulator
    emulator.requestResend()
    const result = await connection.command('G1 X1')
    expect(result.ok).toBe(true)
    const out = recorder.logs.filter((l) => l.direction === 'out').map((l) => l.line)
    const sent = out.filter((l) => l.includes('G1 X1'))
    // The same numbered line twice: the original and the resend.
    expect(sent).toHaveLength(2)
    expect(sent[0]).toMatch(/^N\d+ G1 X1\*\d+$/)
    expect(sent[1]).toBe(sent[0])
    expect(emulator.received.filter((l) => l === 'G1 X1')).toHaveLength(1)
    // The ok that acknowledged the error did not complete the next command early.
    expect((await connection.command('M114')).response[0]).toMatch(/^X:1\.00/)
  })

  it('polls temperatures into telemetry, always as the full set of readings', async () => {
    const { connection, recorder } = simConnection('marlin', {
      temperatureReport: 'poll',
      temperatureIntervalMs: 100,
    })
    await connection.connect()
    await connection.command('G1 X3')
    await connection.command('M114')
    const snapshot = await recorder.telemetryWhere((r) => r.temperature !== undefined && r.positionX === 3)
    expect(snapshot).toMatchObject({
      temperature: expect.any(Number),
      bedTemperature: expect.any(Number),
      positionX: 3,
    })
    // Polls stay out of the log feed.
    expect(recorder.logs.some((l) => l.line.includes('M105'))).toBe(false)
  })

  it('keeps a long command alive while the firmware says busy', async () => {
    const { connection, recorder } = simConnection('marlin', {
      temperatureReport: 'off',
      emulator: { busyIntervalMs: 50 },
    })
    await connection.connect()
    const result = await connection.command('G4 P600', { timeoutMs: 250 })
    expect(result.ok).toBe(true)
    expect(recorder.logs.some((l) => l.line === 'echo:busy: processing')).toBe(true)
  })

  it('times out a command the firmware never answers and stays usable', async () => {
    const { connection, transport } = simConnection('marlin', { temperatureReport: 'off' })
    await connection.connect()
    ;(transport().device as MarlinEmulator).mute()
    await expect(connection.command('M400', { timeoutMs: 150 })).rejects.toMatchObject({
      status: 504,
      timedOut: true,
    })
    expect(connection.status).toBe('connected')
    expect((await connection.command('M105')).ok).toBe(true)
  })

  it('a probe that times out falls back to M110 N0 and a quiet wait; the command goes out', async () => {
    const { connection, recorder, transport } = simConnection('marlin', {
      temperatureReport: 'off',
      resyncQuietMs: 100,
    })
    await connection.connect()
    const emulator = transport().device as MarlinEmulator
    emulator.mute()
    await expect(connection.command('G1 X1', { timeoutMs: 50 })).rejects.toMatchObject({ timedOut: true })
    emulator.mute() // the probe is never answered either
    // Before the fallback this answered 504 unsent ("could not resynchronise").
    expect(await connection.command('G1 X2', { timeoutMs: 50 })).toMatchObject({ ok: true, response: ['ok'] })
    expect((await connection.command('M114')).response[0]).toMatch(/^X:2\.00/)
    expect(emulator.received.slice(-5)).toEqual([
      'G1 X1',
      'M118 E1 myntrix-sync-1',
      'M110 N0',
      'G1 X2',
      'M114',
    ])
    expect(recorder.warnings).toEqual([
      expect.stringMatching(/^could not confirm .* after "G1 X1" timed out/),
    ])
  })

  it('a firmware restart during the probe falls back to waiting for quiet; the command goes out', async () => {
    const { connection, transport } = simConnection('marlin', { temperatureReport: 'off' })
    await connection.connect()
    const emulator = transport().device as MarlinEmulator
    emulator.mute()
    await expect(connection.command('G1 X1', { timeoutMs: 50 })).rejects.toMatchObject({ timedOut: true })
    emulator.mute()
    const next = connection.command('G1 X4')
    await new Promise((r) => setImmediate(r))
    emulator.reset()
    expect(await next).toMatchObject({ ok: true })
    expect(emulator.received.at(-1)).toBe('G1 X4')
  })

  it('fails the command in flight when the firmware restarts', async () => {
    const { connection, transport } = simConnection('marlin', { temperatureReport: 'off' })
    await connection.connect()
    const emulator = transport().device as MarlinEmulator
    emulator.mute()
    const pending = connection.command('M400', { timeoutMs: 5000 })
    await new Promise((r) => setImmediate(r))
    emulator.reset()
    await expect(pending).rejects.toMatchObject({ reset: true })
    // Line numbers restart with the firmware: the next command is accepted.
    expect((await connection.command('G1 X2')).ok).toBe(true)
  })

  it('serialises concurrent commands: answers match their commands', async () => {
    const { connection } = simConnection('marlin', { temperatureReport: 'off' })
    await connection.connect()
    const results = await Promise.all([
      connection.command('G1 X7'),
      connection.command('M114'),
      connection.command('G1 X8'),
      connection.command('M114'),
    ])
    expect(results[1].response[0]).toMatch(/^X:7\.00/)
    expect(results[3].response[0]).toMatch(/^X:8\.00/)
  })

  it('reports a drop once, then reconnects by itself', async () => {
    const { connection, recorder, transport } = simConnection('marlin', {
      temperatureReport: 'off',
      reconnectDelayMs: 20,
    })
    await connection.connect()
    const errored = recorder.nextStatus('error')
    transport().unplug()
    await errored
    expect(connection.lastError).toMatch(/connection lost/)
    await recorder.nextStatus('connected')
    expect((await connection.command('M105')).ok).toBe(true)
  })

  it('does not reconnect when autoReconnect is false', async () => {
    const { connection, recorder, transport } = simConnection('marlin', {
      temperatureReport: 'off',
      autoReconnect: false,
    })
    await connection.connect()
    transport().unplug()
    expect(connection.status).toBe('error')
    await expect(connection.command('M105')).rejects.toMatchObject({ status: 409 })
    expect(recorder.statuses.map((s) => s.status)).toEqual(['connecting', 'connected', 'error'])
  })

  it('rejects commands that are empty, multi-line or have a bad timeout', async () => {
    const { connection } = simConnection('marlin', { temperatureReport: 'off' })
    await connection.connect()
    await expect(connection.command('')).rejects.toMatchObject({ status: 400 })
    await expect(connection.command('G1 X1\nG1 X2')).rejects.toMatchObject({ status: 400 })
    await expect(connection.command('M105', { timeoutMs: 0 })).rejects.toMatchObject({ status: 400 })
  })

  it('answers 409 when not connected, and cancels on disconnect', async () => {
    const { connection, transport } = simConnection('marlin', { temperatureReport: 'off' })
    await expect(connection.command('M105')).rejects.toMatchObject({ status: 409 })
    await connection.connect()
    ;(transport().device as MarlinEmulator).mute()
    const pending = connection.command('M400')
    await new Promise((r) => setImmediate(r))
    await connection.disconnect()
    await expect(pending).rejects.toMatchObject({ canceled: true })
    expect(connection.status).toBe('disconnected')
  })
})

describe('sim://grbl', () => {
  it('asks $I on connect, reads VER and the rx buffer size from OPT', async () => {
    const { connection } = simConnection('grbl', { statusPollMs: 0, emulator: { rxBufferSize: 256 } })
    await connection.connect()
    expect(connection.firmwareVersion).toBe('Grbl 1.1h.20190830')
    expect(connection.activeProtocol?.rxBufferSize).toBe(256)
  })

  it('routes status reports to telemetry and keeps the last WCO', async () => {
    const { connection, recorder } = simConnection('grbl', { statusPollMs: 30 })
    await connection.connect()
    await connection.command('G92 X0 Y0 Z0')
    await connection.command('G0 X5 Y6 Z-1')
    const snapshot = await recorder.telemetryWhere((r) => r.positionX === 5 && r.positionZ === -1)
    expect(snapshot).toMatchObject({ state: 'Idle', positionY: 6, feed: 0, spindle: 0 })
    // Reports are telemetry, not log lines.
    expect(recorder.logs.some((l) => l.line.startsWith('<'))).toBe(false)
  })

  it('answers the real-time ? with the next report, outside the queue', async () => {
    const { connection, transport } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    ;(transport().device as GrblEmulator).mute()
    const stuck = connection.command('G0 X1', { timeoutMs: 300 })
    const report = await connection.command('?')
    expect(report.ok).toBe(true)
    expect(report.response[0]).toMatch(/^<Idle\|MPos:/)
    await expect(stuck).rejects.toMatchObject({ timedOut: true })
  })

  it('maps error:N to a readable message with ok false', async () => {
    const { connection } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    const result = await connection.command('G99')
    expect(result).toMatchObject({ ok: false, response: ['error:20'] })
    expect(result.message).toBe('error:20 Unsupported or invalid g-code command found in block.')
  })

  it('fails the pending command on ALARM, sets error, and clears it with $X', async () => {
    const { connection, transport } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    ;(transport().device as GrblEmulator).hooks['alarm-next']('1')
    const result = await connection.command('G0 X100', { timeoutMs: 5000 })
    expect(result.ok).toBe(false)
    expect(result.message).toMatch(/^ALARM:1 Hard limit triggered/)
    expect(connection.status).toBe('error')
    expect((await connection.command('G0 X1')).message).toMatch(/^error:9/)
    expect((await connection.command('$X')).ok).toBe(true)
    expect(connection.status).toBe('connected')
  })

  it('fails the command in flight when the banner appears mid-session', async () => {
    const { connection, transport } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    const emulator = transport().device as GrblEmulator
    emulator.mute()
    const pending = connection.command('G0 X1', { timeoutMs: 5000 })
    await new Promise((r) => setImmediate(r))
    await connection.command('\x18')
    await expect(pending).rejects.toMatchObject({ reset: true })
  })

  it('a command in flight at a reset waits for the probe: its own ok if taken, 502 lost if not', async () => {
    const { connection, transport } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    const emulator = transport().device as GrblEmulator
    emulator.hooks['reset-before-next']()
    expect(await connection.command('G0 X1')).toMatchObject({ ok: true, response: ['ok'] })
    emulator.hooks['reset-drops-next']()
    await expect(connection.command('G0 X2')).rejects.toMatchObject({ status: 502, reset: true })
    // G0 X2 never reached the planner (the reset ate it); both probes did.
    expect(emulator.received.slice(-3)).toEqual(['G0X1', '$G', '$G'])
    expect((await connection.command('$G')).response).toEqual([expect.stringMatching(/^\[GC:/), 'ok'])
  })

  it('a reset probe answered too late: the command times out and the next resync cannot be fooled by it', async () => {
    const { connection, recorder, transport } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    const emulator = transport().device as GrblEmulator
    emulator.hooks['reset-before-next']()
    // The command's ok, and the reset probe's [GC:...] ok behind it, come after the timeout.
    emulator.hooks['delay-next']('150')
    await expect(connection.command('G0 X1', { timeoutMs: 50 })).rejects.toMatchObject({ timedOut: true })
    // The reset probe was $G, so this resync asks $I: the late [GC: is not taken for its marker.
    expect((await connection.command('G0 X2')).response).toEqual(['ok'])
    expect((await connection.command('$G')).response).toEqual([expect.stringMatching(/^\[GC:/), 'ok'])
    expect(emulator.received.slice(-5)).toEqual(['G0X1', '$G', '$I', 'G0X2', '$G'])
    expect(recorder.logs.filter((l) => l.line.startsWith('late reply')).map((l) => l.line)).toEqual([
      'late reply to "$G": ok',
      expect.stringMatching(/^late reply to "\$G": \[GC:/),
      'late reply to "$G": ok',
    ])
  })

  it('an alarm that ends a command in flight at a reset leaves the late reply of its reset probe to a resync', async () => {
    const { connection, transport } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    const emulator = transport().device as GrblEmulator
    emulator.hooks['reset-before-next']()
    emulator.hooks['alarm-next']('1')
    // The reset probe's [GC:...] ok comes late, after the alarm ended the command.
    emulator.hooks['delay-next']('150')
    expect(await connection.command('G0 X1')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^ALARM:1/),
    })
    expect(await connection.command('$X')).toMatchObject({ response: ['[MSG:Caution: Unlocked]', 'ok'] })
    expect(emulator.received.slice(-4)).toEqual(['G0X1', '$G', '$I', '$X'])
  })

  it('resyncs with $I when $G itself timed out, so its late [GC: is not taken for the probe', async () => {
    const { connection, recorder, transport } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    const emulator = transport().device as GrblEmulator
    emulator.hooks['delay-next']('150')
    await expect(connection.command('$G', { timeoutMs: 30 })).rejects.toMatchObject({ timedOut: true })
    expect((await connection.command('G0 X2')).response).toEqual(['ok'])
    expect((await connection.command('$G')).response).toEqual([expect.stringMatching(/^\[GC:/), 'ok'])
    expect(emulator.received.slice(-4)).toEqual(['$G', '$I', 'G0X2', '$G'])
    expect(recorder.logs.filter((l) => l.line.startsWith('late reply to "$G"')).map((l) => l.line)).toEqual([
      expect.stringMatching(/^late reply to "\$G": \[GC:/),
      'late reply to "$G": ok',
    ])
  })

  it('exclusive resyncs before the session starts: a streamer never sees a late ok', async () => {
    const { connection, transport } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    const emulator = transport().device as GrblEmulator
    emulator.hooks['delay-next']('150')
    await expect(connection.command('G0 X1', { timeoutMs: 30 })).rejects.toMatchObject({ timedOut: true })
    const first = await connection.exclusive(async (session) => {
      const lines: string[] = []
      const answered = new Promise<void>((resolve) => {
        session.onLine((line, events) => {
          lines.push(line)
          if (events.some((e) => e.kind === 'ok' || e.kind === 'fail')) resolve()
        })
      })
      await session.write(Buffer.from('G99\n'))
      await answered
      return lines
    })
    expect(first).toEqual(['error:20'])
  })

  it('exclusive holds the queue: raw writes, line taps, and queued commands run between lines', async () => {
    const { connection } = simConnection('grbl', { statusPollMs: 0 })
    await connection.connect()
    let queued: Promise<unknown> | null = null
    const seen = await connection.exclusive(async (session) => {
      const lines: string[] = []
      const acked = new Promise<void>((resolve) => {
        const off = session.onLine((line, events) => {
          lines.push(line)
          if (
            events.filter((e) => e.kind === 'ok').length > 0 &&
            lines.filter((l) => l === 'ok').length === 2
          ) {
            off()
            resolve()
          }
        })
      })
      // Two lines in flight at once, as character counting does.
      await session.write(Buffer.from('G0 X1\nG0 X2\n'), 'G0 X1 / G0 X2')
      await acked
      queued = connection.command('G0 X3')
      await new Promise((r) => setImmediate(r))
      expect(session.queuedCount).toBe(1)
      await session.runQueued()
      expect(session.queuedCount).toBe(0)
      return lines
    })
    expect(seen).toEqual(['ok', 'ok'])
    expect(await queued).toMatchObject({ ok: true })
    expect((await connection.command('?')).response[0]).toMatch(/MPos:3\.000/)
  })
})
