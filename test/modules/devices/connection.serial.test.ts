// Through the real serialport stack and a kernel pty (socat), with the
// emulator in a separate process on the far end.

import { chmodSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DeviceConnection } from '../../../src/modules/devices/connection.js'
import { parseConnectionString } from '../../../src/modules/devices/connection-string.js'
import { SerialTransport } from '../../../src/modules/devices/transports/serial.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../../helpers/pty.js'
import { EmulatorProcess, Recorder } from './support.js'

if (!hasSocat) console.warn('skipping serial device tests: socat is not installed')

describe.skipIf(!hasSocat)('serial over a pty', () => {
  let dir: string
  let pty: PtyPair | null
  let emulator: EmulatorProcess | null
  const connections: DeviceConnection[] = []

  beforeEach(() => {
    dir = makePtyDir()
    pty = null
    emulator = null
  })

  afterEach(async () => {
    for (const c of connections.splice(0)) await c.disconnect()
    await emulator?.kill()
    await pty?.stop()
    removePtyDir(dir)
  })

  async function plugIn(firmware: string, options: Record<string, unknown> = {}) {
    pty = await startPtyPair(dir)
    emulator = await EmulatorProcess.start('pty-emulator.ts', [
      firmware,
      pty.emulatorPath,
      JSON.stringify(options),
    ])
  }

  /**
   * Plugs in a device whose firmware already listens when its port appears
   * (the link is moved into place after the emulator is up), so nothing the
   * connection sends on reconnect is lost to an emulator still starting.
   */
  async function plugInReady(firmware: string, options: Record<string, unknown> = {}) {
    pty = await startPtyPair(dir, 'device.next')
    emulator = await EmulatorProcess.start('pty-emulator.ts', [
      firmware,
      pty.emulatorPath,
      JSON.stringify(options),
    ])
    renameSync(pty.devicePath, join(dir, 'device'))
  }

  async function unplug() {
    await emulator?.kill()
    await pty?.stop()
  }

  function connect(connectionString: string, configuration: Record<string, unknown> = {}) {
    const recorder = new Recorder()
    const connection = new DeviceConnection({
      label: 'pty-device',
      target: parseConnectionString(connectionString, configuration),
      configuration,
      listener: recorder,
    })
    connections.push(connection)
    return { connection, recorder }
  }

  it('marlin: command round trip with line numbers, M115 firmware and M114 position', async () => {
    await plugIn('marlin')
    const { connection, recorder } = connect(`serial://${dir}/device?baudRate=250000`, {
      protocol: 'marlin',
      temperatureReport: 'off',
    })
    await connection.connect()
    expect(connection.firmwareVersion).toMatch(/^Marlin /)
    expect((await connection.command('G1 X12.5 Y3')).ok).toBe(true)
    const m114 = await connection.command('M114')
    expect(m114.response).toEqual([expect.stringMatching(/^X:12\.50 Y:3\.00/), 'ok'])
    expect(recorder.telemetrySnapshots.at(-1)).toMatchObject({ positionX: 12.5, positionY: 3 })
    // The emulator's stdout may trail its answer on the pty.
    await emulator!.waitForLine(/^rx M114$/)
    expect(emulator!.received()).toEqual(['M110 N0', 'M115', 'G1 X12.5 Y3', 'M114'])
    expect(recorder.trafficCount).toBeGreaterThan(0)
  })

  it('marlin: a resend request is honoured and the line arrives once', async () => {
    await plugIn('marlin')
    const { connection, recorder } = connect(`${dir}/device`, {
      protocol: 'marlin',
      temperatureReport: 'off',
    })
    await connection.connect()
    await emulator!.hook('resend')
    expect((await connection.command('G1 Z0.3')).ok).toBe(true)
    expect(recorder.logs.some((l) => l.direction === 'in' && l.line.startsWith('Resend:'))).toBe(true)
    expect((await connection.command('M105')).ok).toBe(true)
    await emulator!.waitForLine(/^rx M105$/)
    expect(emulator!.received().filter((l) => l === 'G1 Z0.3')).toHaveLength(1)
  })

  it('marlin: temperature auto-report (M155) reaches telemetry', async () => {
    // Heaters that do not drift: an auto-report between the two hooks must not move the reading.
    await plugIn('marlin', { heatRatePerS: 0 })
    const { connection, recorder } = connect(`${dir}/device`, {
      protocol: 'marlin',
      temperatureReport: 'autoreport',
    })
    await connection.connect()
    await emulator!.hook('temps', '199.5', '60.25')
    await emulator!.hook('report')
    const snapshot = await recorder.telemetryWhere((r) => r.temperature === 199.5)
    expect(snapshot.bedTemperature).toBe(60.25)
    await emulator!.waitForLine(/^rx M155 S2$/)
  })

  it('marlin: a command with no answer times out with 504 and the port stays usable', async () => {
    await plugIn('marlin')
    const { connection } = connect(`${dir}/device`, { protocol: 'marlin', temperatureReport: 'off' })
    await connection.connect()
    await emulator!.hook('mute')
    await expect(connection.command('M400', { timeoutMs: 200 })).rejects.toMatchObject({ status: 504 })
    expect((await connection.command('M114')).ok).toBe(true)
  })

  it('marlin: a late ok after a 504 is dropped by the resync, later commands get their own replies', async () => {
    await plugIn('marlin')
    const { connection, recorder } = connect(`${dir}/device`, {
      protocol: 'marlin',
      temperatureReport: 'off',
    })
    await connection.connect()
    await emulator!.hook('delay-next', '400')
    await expect(connection.command('G1 X5', { timeoutMs: 100 })).rejects.toMatchObject({ status: 504 })
    // Sent at once: the emulator still holds the late ok, which now arrives during the probe.
    const m114 = await connection.command('M114')
    expect(m114.response).toEqual([expect.stringMatching(/^X:5\.00 /), 'ok'])
    expect((await connection.command('G1 X6')).response).toEqual(['ok'])
    expect((await connection.command('M114')).response[0]).toMatch(/^X:6\.00 /)
    expect(recorder.logs).toContainEqual({ direction: 'info', line: 'late reply to "G1 X5": ok' })
    await emulator!.waitForLine(/^rx M114$/)
    expect(emulator!.received().slice(2, 4)).toEqual(['G1 X5', 'M118 E1 myntrix-sync-1'])
  })

  it('grbl: a late error:N after a 504 is dropped by the resync, later commands get their own replies', async () => {
    await plugIn('grbl')
    const { connection, recorder } = connect(`${dir}/device`, { protocol: 'grbl', statusPollMs: 0 })
    await connection.connect()
    await emulator!.hook('delay-next', '400')
    await expect(connection.command('G99', { timeoutMs: 100 })).rejects.toMatchObject({ status: 504 })
    expect(await connection.command('G0 X7')).toMatchObject({ ok: true, response: ['ok'] })
    const info = await connection.command('$I')
    expect(info.response).toEqual([expect.stringMatching(/^\[VER:/), expect.stringMatching(/^\[OPT:/), 'ok'])
    expect((await connection.command('$G')).response[0]).toMatch(/^\[GC:/)
    expect(recorder.logs).toContainEqual({ direction: 'info', line: 'late reply to "G99": error:20' })
    await emulator!.waitForLine(/^rx G0X7$/)
    expect(emulator!.received().slice(1, 4)).toEqual(['G99', '$G', 'G0X7'])
  })

  it('marlin: a firmware that answers M118 with a bare ok falls back after a timeout; ten G1 in a row are answered', async () => {
    // The printer of the report: unknown commands (M118 among them) get a bare `ok`, no echo.
    await plugIn('marlin', { m118: false, unknownCommands: 'ok' })
    const { connection, recorder } = connect(`${dir}/device`, {
      protocol: 'marlin',
      temperatureReport: 'off',
    })
    await connection.connect()
    await emulator!.hook('mute')
    await expect(connection.command('M117 HANG', { timeoutMs: 200 })).rejects.toMatchObject({ status: 504 })
    // Before the fix each of these answered 504 unsent: the probe's marker never comes.
    const results = []
    for (let x = 1; x <= 10; x++) results.push(await connection.command(`G1 X${x}`, { timeoutMs: 1000 }))
    expect(results.map((r) => r.response)).toEqual(Array(10).fill(['ok']))
    expect((await connection.command('M114')).response[0]).toMatch(/^X:10\.00 /)
    await emulator!.waitForLine(/^rx M114$/)
    expect(emulator!.received().slice(2)).toEqual([
      'M117 HANG',
      'M118 E1 myntrix-sync-1',
      'M110 N0',
      ...Array.from({ length: 10 }, (_, i) => `G1 X${i + 1}`),
      'M114',
    ])
    expect(recorder.warnings).toEqual([
      expect.stringMatching(/^could not confirm that replies are in step after "M117 HANG" timed out/),
    ])
    expect(recorder.logs).toContainEqual({ direction: 'info', line: 'late reply to "M117 HANG": ok' })
  })

  it('marlin: a replug reconnects a link that was left mid-resync', async () => {
    await plugIn('marlin', { m118: false, unknownCommands: 'ok' })
    const { connection, recorder } = connect(`${dir}/device`, {
      protocol: 'marlin',
      temperatureReport: 'off',
      reconnectDelayMs: 50,
      reconnectMaxDelayMs: 200,
    })
    await connection.connect()
    await emulator!.hook('mute')
    await expect(connection.command('M117 HANG', { timeoutMs: 200 })).rejects.toMatchObject({ status: 504 })
    // A command waiting on the resync probe when the cable is pulled.
    const waiting = connection.command('G1 X1', { timeoutMs: 60_000 })
    waiting.catch(() => {})
    await emulator!.waitForLine(/^rx M118 E1 myntrix-sync-1$/)
    const errored = recorder.nextStatus('error')
    await unplug()
    await expect(waiting).rejects.toMatchObject({ disconnected: true })
    await errored
    const back = recorder.nextStatus('connected')
    await plugInReady('marlin', { m118: false, unknownCommands: 'ok' })
    // Before the fix the handshake resynced on the new link, failed, and the device never came back.
    await back
    expect(await connection.command('G1 X2')).toMatchObject({ ok: true, response: ['ok'] })
    await emulator!.waitForLine(/^rx G1 X2$/)
    // The new link starts in step: no probe on it.
    expect(emulator!.received()).toEqual(['M110 N0', 'M115', 'G1 X2'])
  })

  it('grbl: after $C leaves check mode and the controller resets, $G and $I each get their own reply', async () => {
    await plugIn('grbl')
    const { connection, recorder } = connect(`${dir}/device`, { protocol: 'grbl', statusPollMs: 0 })
    await connection.connect()
    expect(await connection.command('$C')).toMatchObject({ ok: true, response: ['[MSG:Enabled]', 'ok'] })
    // As the report sent them through the API: at once. $G goes out right after $C's ok,
    // and the controller's banner comes after it.
    const [check, modes, info] = await Promise.all([
      connection.command('$C'),
      connection.command('$G'),
      connection.command('$I'),
    ])
    expect(check).toMatchObject({ ok: true, response: ['[MSG:Disabled]', 'ok'] })
    // Before the fix: $G failed 502 "the command was lost" and $I was handed $G's [GC:...] reply.
    expect(modes).toMatchObject({ ok: true, response: [expect.stringMatching(/^\[GC:/), 'ok'] })
    expect(info).toMatchObject({
      ok: true,
      response: [expect.stringMatching(/^\[VER:/), expect.stringMatching(/^\[OPT:/), 'ok'],
    })
    expect(recorder.logs).toContainEqual({
      direction: 'info',
      line: "the controller reset (Grbl 1.1h ['$' for help])",
    })
    expect(await connection.command('$G')).toMatchObject({
      response: [expect.stringMatching(/^\[GC:/), 'ok'],
    })
  })

  it('grbl: a motion command taken just after a reset is answered ok, never reported lost; a line the reset ate is', async () => {
    await plugIn('grbl')
    const { connection } = connect(`${dir}/device`, { protocol: 'grbl', statusPollMs: 0 })
    await connection.connect()
    await emulator!.hook('reset-before-next')
    // Before the fix: 502 "the controller reset; the command was lost" while the machine went to X10 Y5.
    expect(await connection.command('G0 X10 Y5')).toMatchObject({ ok: true, response: ['ok'] })
    expect((await connection.command('?')).response[0]).toMatch(/MPos:10\.000,5\.000,/)
    await emulator!.hook('reset-drops-next')
    await expect(connection.command('G0 X20')).rejects.toMatchObject({
      status: 502,
      reset: true,
      message: expect.stringMatching(/reset before it took "G0 X20".*the command was lost/),
    })
    expect((await connection.command('?')).response[0]).toMatch(/MPos:10\.000,5\.000,/)
    expect(await connection.command('$G')).toMatchObject({
      response: [expect.stringMatching(/^\[GC:/), 'ok'],
    })
    expect(await connection.command('G0 X3')).toMatchObject({ ok: true, response: ['ok'] })
  })

  it('grbl: no greeting on a pty, $I answers, status reports and error:N', async () => {
    await plugIn('grbl')
    const { connection, recorder } = connect(`${dir}/device`, { protocol: 'grbl', statusPollMs: 50 })
    await connection.connect()
    expect(connection.firmwareVersion).toBe('Grbl 1.1h.20190830')
    expect(emulator!.received()[0]).toBe('$I')
    await connection.command('G0 X4 Y2')
    await recorder.telemetryWhere((r) => r.positionX === 4 && r.state === 'Idle')
    const bad = await connection.command('$Z')
    expect(bad).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^error:3 Grbl '\$' system command/),
    })
  })

  it('grbl: an alarm fails the pending line instead of waiting for its timeout', async () => {
    await plugIn('grbl')
    const { connection, recorder } = connect(`${dir}/device`, { protocol: 'grbl', statusPollMs: 0 })
    await connection.connect()
    await emulator!.hook('alarm-next', '2')
    const errored = recorder.nextStatus('error')
    const result = await connection.command('G0 X900', { timeoutMs: 10_000 })
    expect(result).toMatchObject({ ok: false, message: expect.stringMatching(/^ALARM:2 /) })
    await errored
    expect(connection.lastError).toMatch(/^ALARM:2/)
  })

  it('grbl: a status query waiting for its report fails when the link drops', async () => {
    await plugIn('grbl')
    const { connection } = connect(`${dir}/device`, {
      protocol: 'grbl',
      statusPollMs: 0,
      autoReconnect: false,
    })
    await connection.connect()
    await emulator!.hook('mute')
    const query = connection.command('?', { timeoutMs: 60_000 })
    query.catch(() => {})
    await unplug()
    // Without the fix this waited for the 60 s timeout (the test's own limit is 30 s).
    await expect(query).rejects.toThrow()
  })

  it('jsonl: a plain text answer (PING -> PONG) completes the command instead of timing out', async () => {
    await plugIn('jsonl')
    const { connection, recorder } = connect(`${dir}/device`, { protocol: 'jsonl' })
    await connection.connect()
    // Before the fix only JSON objects with answer keys completed a command: this was a 504.
    expect(await connection.command('PING', { timeoutMs: 5000 })).toMatchObject({
      ok: true,
      response: ['PONG'],
    })
    // Telemetry samples still complete nothing: the next command gets its own answer.
    await emulator!.hook('sample', '21.5')
    await recorder.telemetryWhere((r) => r.temperature === 21.5)
    expect(await connection.command('read')).toMatchObject({
      ok: true,
      response: ['{"ok":true,"result":"read"}'],
    })
  })

  it('jsonl: with jsonAnswersOnly, text printed before the JSON answer joins its response and completes nothing', async () => {
    await plugIn('jsonl')
    const { connection, recorder } = connect(`${dir}/device`, { protocol: 'jsonl', jsonAnswersOnly: true })
    await connection.connect()
    expect(await connection.command('noisy')).toMatchObject({
      ok: true,
      response: ['note: working on it', '{"ok":true,"result":"noisy"}'],
    })
    expect(recorder.logs).toContainEqual({ direction: 'in', line: 'note: working on it' })
    expect(await connection.command('next')).toMatchObject({ response: ['{"ok":true,"result":"next"}'] })
  })

  it('the emulator dies and comes back on the same path: error, then reconnected', async () => {
    await plugIn('marlin')
    const { connection, recorder } = connect(`${dir}/device`, {
      protocol: 'marlin',
      temperatureReport: 'off',
      reconnectDelayMs: 50,
      reconnectMaxDelayMs: 200,
    })
    await connection.connect()
    const errored = recorder.nextStatus('error')
    await unplug()
    await errored
    expect(connection.lastError).toMatch(/connection lost/)
    await expect(connection.command('M105')).rejects.toMatchObject({ status: 409 })
    const back = recorder.nextStatus('connected')
    await plugIn('marlin')
    await back
    expect((await connection.command('M105')).ok).toBe(true)
    expect(recorder.logs.filter((l) => l.line.startsWith('connection lost'))).toHaveLength(1)
  })

  it('a missing port answers ENOENT and leaves the device in error', async () => {
    const { connection } = connect(`${dir}/nothing-here`, { protocol: 'marlin' })
    await expect(connection.connect()).rejects.toMatchObject({ code: 'ENOENT', status: 502 })
    expect(connection.status).toBe('error')
    expect(connection.lastError).toMatch(/ENOENT/)
  })

  it('a path that is not a tty fails with the OS reason', async () => {
    const { connection } = connect('/dev/null', { protocol: 'line' })
    await expect(connection.connect()).rejects.toMatchObject({
      status: 502,
      code: expect.stringMatching(/^E/),
    })
  })
})

const isRoot = process.getuid?.() === 0
if (isRoot) console.warn('skipping the EACCES serial test: running as root, every path is accessible')

describe.skipIf(!hasSocat)('serial transport open errors', () => {
  it('a baud rate the port cannot take fails with EINVAL', async () => {
    const dir = makePtyDir()
    const pty = await startPtyPair(dir)
    try {
      const transport = new SerialTransport(pty.devicePath, 0)
      await expect(transport.open()).rejects.toMatchObject({ code: 'EINVAL' })
      await transport.close()
    } finally {
      await pty.stop()
      removePtyDir(dir)
    }
  })

  it.skipIf(isRoot)('a port without permission fails with EACCES', async () => {
    const dir = makePtyDir()
    const path = join(dir, 'locked')
    writeFileSync(path, '')
    chmodSync(path, 0o000)
    try {
      await expect(new SerialTransport(path, 115200).open()).rejects.toMatchObject({ code: 'EACCES' })
    } finally {
      removePtyDir(dir)
    }
  })
})
