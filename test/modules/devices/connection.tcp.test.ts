// TCP sockets to an emulator process; line and jsonl dialects, and a
// Marlin behind a serial-to-Ethernet bridge.

import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { DeviceConnection } from '../../../src/modules/devices/connection.js'
import { parseConnectionString } from '../../../src/modules/devices/connection-string.js'
import type { LogDirection } from '../../../src/modules/devices/types.js'
import { EmulatorProcess, Recorder } from './support.js'

const connections: DeviceConnection[] = []
const emulators: EmulatorProcess[] = []

afterEach(async () => {
  for (const c of connections.splice(0)) await c.disconnect()
  for (const e of emulators.splice(0)) await e.kill()
})

async function serve(firmware: string, port = 0, options: Record<string, unknown> = {}) {
  const emulator = await EmulatorProcess.start('tcp-emulator.ts', [
    firmware,
    String(port),
    JSON.stringify(options),
  ])
  emulators.push(emulator)
  const listening = await emulator.waitForLine(/^listening \d+$/)
  return { emulator, port: Number(listening.split(' ')[1]) }
}

function connect(port: number, configuration: Record<string, unknown>) {
  const recorder = new Recorder()
  const connection = new DeviceConnection({
    label: 'tcp-device',
    target: parseConnectionString(`tcp://127.0.0.1:${port}`),
    configuration,
    listener: recorder,
  })
  connections.push(connection)
  return { connection, recorder }
}

/** A port nothing listens on: bind, read the number, close. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((r) => server.close(() => r()))
  return port
}

describe('tcp transport', () => {
  it('line: the first line back completes the command, both directions are logged', async () => {
    const { port } = await serve('line')
    const { connection, recorder } = connect(port, { protocol: 'line' })
    await connection.connect()
    const result = await connection.command('hello there')
    expect(result).toMatchObject({ ok: true, response: ['echo hello there'] })
    expect(recorder.logs).toEqual(
      expect.arrayContaining([
        { direction: 'out', line: 'hello there' },
        { direction: 'in', line: 'echo hello there' },
      ]),
    )
  })

  it('jsonl: JSON answers complete commands, other JSON lines are telemetry samples', async () => {
    const { emulator, port } = await serve('jsonl')
    const { connection, recorder } = connect(port, { protocol: 'jsonl' })
    await connection.connect()
    expect(await connection.command('{"cmd":"read"}')).toMatchObject({ ok: true })
    expect(await connection.command('fail')).toMatchObject({ ok: false, message: 'refused' })
    await emulator.hook('sample', '23.5')
    const snapshot = await recorder.telemetryWhere((r) => r.temperature === 23.5)
    expect(snapshot.humidity).toBe(40)
  })

  it('marlin over TCP: round trip, and a mute command times out while the socket stays usable', async () => {
    const { emulator, port } = await serve('marlin')
    const { connection } = connect(port, { protocol: 'marlin', temperatureReport: 'off' })
    await connection.connect()
    expect((await connection.command('G28')).ok).toBe(true)
    await emulator.hook('mute')
    await expect(connection.command('M400', { timeoutMs: 150 })).rejects.toMatchObject({ status: 504 })
    expect((await connection.command('M105')).response[0]).toMatch(/^ok T:/)
  })

  it('the server dies and restarts on the same port: error, then reconnected', async () => {
    const first = await serve('grbl')
    const { connection, recorder } = connect(first.port, {
      protocol: 'grbl',
      statusPollMs: 0,
      reconnectDelayMs: 50,
      reconnectMaxDelayMs: 200,
    })
    await connection.connect()
    const errored = recorder.nextStatus('error')
    await first.emulator.die()
    await errored
    const back = recorder.nextStatus('connected')
    await serve('grbl', first.port)
    await back
    expect((await connection.command('$I')).ok).toBe(true)
  })

  it('a fault in handling the device’s output drops the link with the fault as the reason, not the server', async () => {
    const { port } = await serve('line')
    // A listener with a bug that trips on one line the device sends.
    class FaultyRecorder extends Recorder {
      override log(direction: LogDirection, line: string): void {
        if (direction === 'in' && line === 'echo trip') throw new Error('a bug in a listener')
        super.log(direction, line)
      }
    }
    const recorder = new FaultyRecorder()
    const connection = new DeviceConnection({
      label: 'tcp-device',
      target: parseConnectionString(`tcp://127.0.0.1:${port}`),
      configuration: { protocol: 'line', reconnectDelayMs: 50, reconnectMaxDelayMs: 200 },
      listener: recorder,
    })
    connections.push(connection)
    await connection.connect()
    const errored = recorder.nextStatus('error')
    await expect(connection.command('trip')).rejects.toMatchObject({ disconnected: true })
    await errored
    expect(recorder.statuses.at(-1)?.lastError).toBe(
      "connection lost: handling the device's output failed: a bug in a listener",
    )
    // The link is opened again (the device itself is fine) and works.
    const back = recorder.nextStatus('connected')
    await back
    expect(await connection.command('hello')).toMatchObject({ ok: true, response: ['echo hello'] })
  })

  it('connection refused answers ECONNREFUSED', async () => {
    const port = await closedPort()
    const { connection } = connect(port, { protocol: 'line' })
    await expect(connection.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED', status: 502 })
    expect(connection.status).toBe('error')
    expect(connection.lastError).toMatch(/ECONNREFUSED/)
  })

  it('a firmware that never answers the handshake fails connect with a timeout', async () => {
    const { port } = await serve('line')
    // A line echo device does not know $I: it answers, but never "ok".
    const { connection } = connect(port, { protocol: 'grbl', handshakeTimeoutMs: 100, statusPollMs: 0 })
    await expect(connection.connect()).rejects.toMatchObject({ status: 504 })
    expect(connection.status).toBe('error')
  })
})
