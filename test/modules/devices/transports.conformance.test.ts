// Every registered transport passes this suite, each against a real far end:
// a socat pty pair (serial), a TCP socket (tcp), the local Mosquitto behind a
// TCP relay the test can cut (mqtt), the built-in emulator (sim). Each opens,
// carries a line both ways, closes without reporting a drop, and reports a
// drop by the far end once, with the same TransportError flags.

import { randomUUID } from 'node:crypto'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { SerialPort } from 'serialport'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveConfiguration } from '../../../src/modules/devices/configuration.js'
import {
  type ConnectionTarget,
  parseConnectionString,
} from '../../../src/modules/devices/connection-string.js'
import { LineEchoEmulator } from '../../../src/modules/devices/sim/line.js'
import { transports } from '../../../src/modules/devices/transports/index.js'
import type { SimTransport } from '../../../src/modules/devices/transports/sim.js'
import { type Transport, TransportError } from '../../../src/modules/devices/transports/types.js'
import { freePort, portOpen } from '../../helpers/ports.js'
import { hasSocat, makePtyDir, removePtyDir, startPtyPair } from '../../helpers/pty.js'

const BROKER = { host: '127.0.0.1', port: 1883 }

/** The other end of one transport, as the device or its bridge would be. */
interface FarEnd {
  target: ConnectionTarget
  /** A line the transport writes, and what the far end answers to it (as the transport delivers it). */
  request: string
  answer: RegExp
  /** The far end goes away: cable pulled, peer or broker gone. */
  drop(transport: Transport): Promise<void>
  stop(): Promise<void>
}

interface Harness {
  /** Why the suite cannot run here (a missing socat or broker), or null. */
  missing: string | null
  farEnd(): Promise<FarEnd>
  /** A target of this scheme nothing answers, and the OS code its open rejects with. */
  unreachable?(): Promise<{ target: ConnectionTarget; code: string }>
}

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  )
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy()
  return new Promise((resolve) => server.close(() => resolve()))
}

const hasBroker = await portOpen(BROKER.port)

const harnesses: Record<string, Harness> = {
  serial: {
    missing: hasSocat ? null : 'socat',
    async farEnd() {
      const dir = makePtyDir()
      const pair = await startPtyPair(dir)
      const port = new SerialPort({ path: pair.emulatorPath, baudRate: 115200, autoOpen: false })
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
      port.on('error', () => {})
      const echo = new LineEchoEmulator()
      port.on('data', (chunk: Buffer) => echo.write(chunk))
      echo.onOutput((data) => port.write(Buffer.from(data, 'latin1')))
      const closeFarEnd = async () => {
        echo.stop()
        if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()))
      }
      return {
        target: parseConnectionString(pair.devicePath),
        request: 'hello\n',
        answer: /^echo hello\r?\n$/,
        // As a pulled USB cable: the device behind the pty goes, then the pty pair.
        drop: () => closeFarEnd().then(() => pair.stop()),
        async stop() {
          await closeFarEnd()
          await pair.stop()
          removePtyDir(dir)
        },
      }
    },
    async unreachable() {
      const dir = makePtyDir()
      cleanups.push(() => removePtyDir(dir))
      return { target: parseConnectionString(join(dir, 'nothing')), code: 'ENOENT' }
    },
  },

  tcp: {
    missing: null,
    async farEnd() {
      const sockets = new Set<Socket>()
      const server = createServer((socket) => {
        sockets.add(socket)
        const echo = new LineEchoEmulator()
        socket.on('data', (chunk) => echo.write(chunk))
        echo.onOutput((data) => socket.write(data))
        socket.on('error', () => {})
        socket.on('close', () => {
          echo.stop()
          sockets.delete(socket)
        })
      })
      const port = await listen(server)
      return {
        target: parseConnectionString(`tcp://127.0.0.1:${port}`),
        request: 'hello\n',
        answer: /^echo hello\r?\n$/,
        async drop() {
          for (const socket of sockets) socket.destroy()
        },
        stop: () => closeServer(server, sockets),
      }
    },
    async unreachable() {
      return { target: parseConnectionString(`tcp://127.0.0.1:${await freePort()}`), code: 'ECONNREFUSED' }
    },
  },

  mqtt: {
    missing: hasBroker ? null : 'an MQTT broker on 127.0.0.1:1883',
    async farEnd() {
      // A relay in front of the broker: cutting it is the broker going away.
      const sockets = new Set<Socket>()
      const relay = createServer((socket) => {
        const upstream = tcpConnect(BROKER)
        for (const s of [socket, upstream]) {
          sockets.add(s)
          s.on('error', () => {})
          s.on('close', () => {
            sockets.delete(s)
            socket.destroy()
            upstream.destroy()
          })
        }
        socket.pipe(upstream)
        upstream.pipe(socket)
      })
      const port = await listen(relay)
      const prefix = `myntrix-test/${randomUUID()}`
      const device: MqttClient = await connectAsync(`mqtt://${BROKER.host}:${BROKER.port}`, {
        reconnectPeriod: 0,
      })
      await device.subscribeAsync(`${prefix}/command`, { qos: 1 })
      device.on('message', (_topic, payload) => {
        device.publishAsync(`${prefix}/log`, `echo ${payload.toString()}`, { qos: 1 }).catch(() => {})
      })
      return {
        target: parseConnectionString(`mqtt://127.0.0.1:${port}/${prefix}`),
        request: 'hello\n',
        // The transport frames each message as `<topic-suffix> <payload>`.
        answer: /^log echo hello\n$/,
        async drop() {
          for (const socket of sockets) socket.destroy()
        },
        async stop() {
          await device.endAsync()
          await closeServer(relay, sockets)
        },
      }
    },
    async unreachable() {
      return {
        target: parseConnectionString(`mqtt://127.0.0.1:${await freePort()}/myntrix-test/none`),
        code: 'ECONNREFUSED',
      }
    },
  },

  sim: {
    missing: null,
    async farEnd() {
      return {
        target: parseConnectionString('sim://marlin'),
        // Marlin's M118 E1 prints its text back as `echo:<text>`.
        request: 'M118 E1 hello\n',
        answer: /^echo:hello\r?\n$/,
        async drop(transport) {
          // What a pulled cable is to the built-in emulator.
          ;(transport as SimTransport).unplug()
        },
        async stop() {},
      }
    },
  },
}

/** Collects a transport's inbound bytes into lines; `next` resolves with the first matching one. */
function lines(transport: Transport) {
  let buffer = ''
  const seen: string[] = []
  const waiters: { match: RegExp; resolve(line: string): void }[] = []
  transport.onData((chunk) => {
    buffer += chunk.toString('latin1')
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl + 1)
      buffer = buffer.slice(nl + 1)
      seen.push(line)
      for (const w of waiters.filter((w) => w.match.test(line))) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(line)
      }
    }
  })
  return {
    next: (match: RegExp) =>
      new Promise<string>((resolve) => {
        const line = seen.find((l) => match.test(l))
        if (line !== undefined) resolve(line)
        else waiters.push({ match, resolve })
      }),
  }
}

it('every registered transport has a far end in this suite', () => {
  expect(Object.keys(harnesses).sort()).toEqual(Object.keys(transports).sort())
})

describe.each(Object.entries(transports))('transport %s', (scheme, factory) => {
  const harness = harnesses[scheme]!
  if (harness.missing) console.warn(`skipping the ${scheme} transport conformance: no ${harness.missing}`)

  async function opened(): Promise<{
    transport: Transport
    far: FarEnd
    closes: (TransportError | undefined)[]
  }> {
    const far = await harness.farEnd()
    cleanups.push(() => far.stop())
    const transport = factory.create(far.target, resolveConfiguration({}, 'line'))
    cleanups.push(() => transport.close())
    const closes: (TransportError | undefined)[] = []
    transport.onClose((err) => closes.push(err))
    await transport.open()
    return { transport, far, closes }
  }

  describe.skipIf(harness.missing !== null)('against a real far end', () => {
    it('opens, writes a line and reads the answer', async () => {
      const { transport, far } = await opened()
      const inbound = lines(transport)
      await transport.write(Buffer.from(far.request, 'latin1'))
      expect(await inbound.next(far.answer)).toMatch(far.answer)
    })

    it('close() resolves, reports no drop, may be repeated, and later writes reject with ENOTCONN', async () => {
      const { transport, closes } = await opened()
      await transport.close()
      await transport.close()
      expect(closes).toEqual([])
      const err = await transport.write(Buffer.from('late\n')).catch((e) => e)
      expect(err).toBeInstanceOf(TransportError)
      expect(err).toMatchObject({ code: 'ENOTCONN', disconnected: true })
    })

    it('a drop by the far end is reported once, as a disconnected TransportError with a code', async () => {
      const { transport, far, closes } = await opened()
      const reported = new Promise<TransportError | undefined>((resolve) => transport.onClose(resolve))
      await far.drop(transport)
      const err = await reported
      expect(err).toBeInstanceOf(TransportError)
      expect(err).toMatchObject({ disconnected: true, canceled: false })
      expect(err?.code).toMatch(/^E[A-Z]+$/)
      expect(closes).toHaveLength(1)
      const write = await transport.write(Buffer.from('late\n')).catch((e) => e)
      expect(write).toBeInstanceOf(TransportError)
      expect(write.disconnected).toBe(true)
    })
  })

  it.skipIf(harness.missing !== null || !harness.unreachable)(
    'an open nothing answers rejects with a TransportError carrying the OS code',
    async () => {
      const { target, code } = await harness.unreachable!()
      const transport = factory.create(target, resolveConfiguration({}, 'line'))
      const err = await transport.open().catch((e) => e)
      expect(err).toBeInstanceOf(TransportError)
      expect(err.code).toBe(code)
    },
  )
})
