// MQTT through the local Mosquitto. The far-end device is a plain MQTT client
// here: it answers `<prefix>/command` on `<prefix>/response` with the
// correlation id, publishes telemetry, and has a last-will on `<prefix>/status`.

import { randomUUID } from 'node:crypto'
import { connect as tcpConnect } from 'node:net'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { DeviceConnection } from '../../../src/modules/devices/connection.js'
import { parseConnectionString } from '../../../src/modules/devices/connection-string.js'
import { Recorder } from './support.js'

const BROKER = { host: '127.0.0.1', port: 1883 }

const hasBroker = await new Promise<boolean>((resolve) => {
  const socket = tcpConnect(BROKER)
  socket.once('connect', () => {
    socket.destroy()
    resolve(true)
  })
  socket.once('error', () => resolve(false))
})
if (!hasBroker) console.warn('skipping MQTT device tests: no MQTT broker on 127.0.0.1:1883')

describe.skipIf(!hasBroker)('mqtt transport', () => {
  const connections: DeviceConnection[] = []
  const clients: MqttClient[] = []
  const prefixes = new Set<string>()

  afterEach(async () => {
    for (const c of connections.splice(0)) await c.disconnect()
    for (const c of clients.splice(0)) await c.endAsync()
    // Leave no retained status messages behind on the shared broker.
    const cleaner = await connectAsync(`mqtt://${BROKER.host}:${BROKER.port}`, { reconnectPeriod: 0 })
    for (const prefix of prefixes)
      await cleaner.publishAsync(`${prefix}/status`, '', { qos: 1, retain: true })
    prefixes.clear()
    await cleaner.endAsync()
  })

  /** A fake device on the broker; `answer` decides what each command gets. */
  async function device(prefix: string, answer: (command: string) => Record<string, unknown> | null) {
    prefixes.add(prefix)
    const client = await connectAsync(`mqtt://${BROKER.host}:${BROKER.port}`, {
      reconnectPeriod: 0,
      will: { topic: `${prefix}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    })
    clients.push(client)
    await client.subscribeAsync(`${prefix}/command`, { qos: 1 })
    client.on('message', (_topic, payload) => {
      const { id, command } = JSON.parse(payload.toString()) as { id: string; command: string }
      const reply = answer(command)
      if (reply)
        client
          .publishAsync(`${prefix}/response`, JSON.stringify({ id, ...reply }), { qos: 1 })
          .catch(() => {})
    })
    await client.publishAsync(`${prefix}/status`, 'online', { qos: 1, retain: true })
    return client
  }

  function connect(prefix: string, configuration: Record<string, unknown> = {}) {
    const recorder = new Recorder()
    const connection = new DeviceConnection({
      label: 'mqtt-device',
      target: parseConnectionString(`mqtt://${BROKER.host}:${BROKER.port}/${prefix}`),
      configuration,
      listener: recorder,
    })
    connections.push(connection)
    return { connection, recorder }
  }

  it('commands carry a correlation id and complete on the matching response', async () => {
    const prefix = `myntrix-test/${randomUUID()}`
    const seen: string[] = []
    await device(prefix, (command) => {
      seen.push(command)
      return command === 'explode'
        ? { ok: false, error: 'will not' }
        : { ok: true, response: [`did ${command}`] }
    })
    const { connection } = connect(prefix)
    await connection.connect()
    expect(connection.status).toBe('connected')
    expect(await connection.command('open valve')).toMatchObject({ ok: true, response: ['did open valve'] })
    expect(await connection.command('explode')).toMatchObject({ ok: false, message: 'will not' })
    expect(seen).toEqual(['open valve', 'explode'])
  })

  it('telemetry from <prefix>/telemetry becomes readings', async () => {
    const prefix = `myntrix-test/${randomUUID()}`
    const client = await device(prefix, () => ({ ok: true }))
    const { connection, recorder } = connect(prefix)
    await connection.connect()
    await client.publishAsync(`${prefix}/telemetry`, JSON.stringify({ temperature: 31.5, state: 'idle' }))
    const snapshot = await recorder.telemetryWhere((r) => r.temperature === 31.5)
    expect(snapshot.state).toBe('idle')
  })

  it('an unanswered command times out; a late answer with the old id is not taken for the next one', async () => {
    const prefix = `myntrix-test/${randomUUID()}`
    let held: (() => void) | null = null
    const client = await device(prefix, (command) => {
      if (command === 'slow') {
        return null
      }
      return { ok: true, response: [command] }
    })
    client.on('message', (_t, payload) => {
      const { id, command } = JSON.parse(payload.toString()) as { id: string; command: string }
      if (command === 'slow') {
        held = () => {
          client
            .publishAsync(`${prefix}/response`, JSON.stringify({ id, ok: true, response: ['late'] }))
            .catch(() => {})
        }
      }
    })
    const { connection } = connect(prefix)
    await connection.connect()
    await expect(connection.command('slow', { timeoutMs: 150 })).rejects.toMatchObject({ status: 504 })
    const next = connection.command('fast', { timeoutMs: 5000 })
    ;(held as (() => void) | null)?.()
    expect(await next).toMatchObject({ ok: true, response: ['fast'] })
  })

  it('the device last-will (offline) and its return show in the status', async () => {
    const prefix = `myntrix-test/${randomUUID()}`
    const client = await device(prefix, () => ({ ok: true }))
    const { connection, recorder } = connect(prefix)
    await connection.connect()
    const offline = recorder.nextStatus('connecting')
    // Dropping without a clean disconnect makes the broker publish the will.
    ;(client as unknown as { stream: { destroy(): void } }).stream.destroy()
    await offline
    expect(connection.lastError).toMatch(/offline/)
    await expect(connection.command('x')).rejects.toMatchObject({ status: 409 })
    const online = recorder.nextStatus('connected')
    await device(prefix, () => ({ ok: true }))
    await online
  })

  it('a broker that refuses the connection answers ECONNREFUSED', async () => {
    const connection = new DeviceConnection({
      label: 'mqtt-device',
      target: parseConnectionString('mqtt://127.0.0.1:1/myntrix-test/none'),
    })
    connections.push(connection)
    await expect(connection.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })
})
