// The outbound policy as an operator meets it through the devices API: real
// listeners on 127.0.0.1 (a Redis-like line server, the local Mosquitto),
// probed the way an attacker holding an operator account would. Loopback is
// refused to non-admins unless MYNTRIX_OUTBOUND_ALLOW names it; admins reach
// anything; a device connects with the least of its owner's and caller's role.

import { lookup } from 'node:dns/promises'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { hostname } from 'node:os'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Principal } from '../../../src/auth/principal.js'
import { DevicesService } from '../../../src/modules/devices/service.js'
import { OutboundPolicy, parseOutboundAllow } from '../../../src/net/outbound-policy.js'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'

/** A line server that answers every line with `+OK` (Redis's reply to SET), counting connections. */
async function lineServer() {
  const sockets = new Set<Socket>()
  let connections = 0
  const server: Server = createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      for (const _ of chunk.split('\n').slice(1)) socket.write('+OK\n')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    get connections() {
      return connections
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const hasBroker = await new Promise<boolean>((resolve) => {
  const socket = tcpConnect({ host: '127.0.0.1', port: 1883 })
  socket.once('connect', () => {
    socket.destroy()
    resolve(true)
  })
  socket.once('error', () => resolve(false))
})
if (!hasBroker) console.warn('skipping the MQTT outbound tests: no MQTT broker on 127.0.0.1:1883')

// This host's own name resolves to loopback on most machines (/etc/hosts): the case a literal check
// on the string cannot see. The service-level tests below cover it with a fixed resolver everywhere.
const loopbackName = await (async () => {
  const name = hostname()
  const answers = await lookup(name, { all: true }).catch(() => [])
  return answers.length > 0 && answers.every((a) => a.address === '127.0.0.1' || a.address === '::1')
    ? name
    : null
})()
if (!loopbackName)
  console.warn(`skipping the host-name outbound tests: ${hostname()} does not resolve to loopback`)

const DEVICES = '/api/myntrix/devices'

describe.each(testEngines())('outbound policy for devices on $name', (engine) => {
  let t: TestApp
  let redis: Awaited<ReturnType<typeof lineServer>>
  let other: Awaited<ReturnType<typeof lineServer>>

  // Fresh listeners per test, so each test's connection counts are its own.
  beforeEach(async () => {
    redis = await lineServer()
    other = await lineServer()
  })
  afterEach(async () => {
    await t?.dispose()
    await redis.close()
    await other.close()
  })

  const create = (as: TestUser, connectionString: string) =>
    t.request('POST', DEVICES, {
      as,
      body: { name: 'probe', connectionString, configuration: { protocol: 'line' } },
    })

  function expectDenied(
    res: { status: number; headers: Record<string, unknown>; body: any },
    target: string,
  ) {
    expect(res.status).toBe(403)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.body.type).toMatch(/outbound-denied$/)
    expect(res.body.detail).toContain(target)
    expect(res.body.detail).toContain('MYNTRIX_OUTBOUND_ALLOW=')
  }

  describe('with the default policy', () => {
    it('refuses an operator a loopback TCP device at create: nothing stored, nothing connected', async () => {
      t = await createTestApp(engine)
      const res = await create(t.operator, `tcp://127.0.0.1:${redis.port}`)
      expectDenied(res, `127.0.0.1:${redis.port}`)
      expect(res.body.errors).toEqual([{ path: 'connectionString', message: res.body.detail }])
      expect((await t.request('GET', DEVICES, { as: t.operator })).body).toEqual([])
      expect(redis.connections).toBe(0)
    })

    it('refuses an operator every other spelling of this host, metadata and unspecified at create', async () => {
      t = await createTestApp(engine)
      const refused = [
        'tcp://localhost:PORT',
        'tcp://127.1:PORT',
        'tcp://0x7f.1:PORT',
        'tcp://2130706433:PORT',
        'tcp://[::1]:PORT',
        'tcp://[::ffff:127.0.0.1]:PORT',
        'tcp://0.0.0.0:PORT',
        'tcp://169.254.169.254:80',
        'tcp://metadata.google.internal:80',
        'mqtt://127.0.0.1:1883/x',
        'mqtt://169.254.169.254/x',
        'mqtt://[::1]/x',
      ]
      for (const pattern of refused) {
        const res = await create(t.operator, pattern.replace('PORT', String(redis.port)))
        expect(res.status, pattern).toBe(403)
        expect(res.body.type, pattern).toMatch(/outbound-denied$/)
      }
      expect((await t.request('GET', DEVICES, { as: t.operator })).body).toEqual([])
      expect(redis.connections).toBe(0)
    })

    it('lets an admin create and connect a loopback device and talk to it', async () => {
      t = await createTestApp(engine)
      const res = await create(t.admin, `tcp://127.0.0.1:${redis.port}`)
      expect(res.status).toBe(201)
      const connected = await t.request('POST', `${DEVICES}/${res.body.id}/connect`, { as: t.admin })
      expect(connected.status).toBe(200)
      expect(connected.body.status).toBe('connected')
      const reply = await t.request('POST', `${DEVICES}/${res.body.id}/command`, {
        as: t.admin,
        body: { command: 'SET k v' },
      })
      expect(reply.body).toMatchObject({ ok: true, response: ['+OK'] })
    })

    it("refuses an admin pointing an operator's device at loopback (the owner is held to the policy)", async () => {
      t = await createTestApp(engine)
      const device = (await create(t.operator, 'tcp://printer.lan:23')).body
      const res = await t.request('PUT', `${DEVICES}/${device.id}`, {
        as: t.admin,
        body: { connectionString: `tcp://127.0.0.1:${redis.port}` },
      })
      expectDenied(res, `127.0.0.1:${redis.port}`)
      expect(
        (await t.request('GET', `${DEVICES}/${device.id}`, { as: t.operator })).body.connectionString,
      ).toBe('tcp://printer.lan:23')
    })

    describe.skipIf(!loopbackName)('a host name that resolves to loopback', () => {
      it('is refused at connect, with the device left as it was', async () => {
        t = await createTestApp(engine)
        const device = (await create(t.operator, `tcp://${loopbackName}:${redis.port}`)).body
        expect(device.status).toBe('disconnected')
        const res = await t.request('POST', `${DEVICES}/${device.id}/connect`, { as: t.operator })
        expectDenied(res, `${loopbackName}:${redis.port}`)
        expect(res.body.detail).toMatch(/resolves to (127\.0\.0\.1|::1)/)
        const after = await t.request('GET', `${DEVICES}/${device.id}`, { as: t.operator })
        expect(after.body).toMatchObject({ status: 'disconnected', lastError: null })
        expect(redis.connections).toBe(0)
        // An admin connecting it does not lend the operator's device an admin's reach.
        const byAdmin = await t.request('POST', `${DEVICES}/${device.id}/connect`, { as: t.admin })
        expect(byAdmin.status).toBe(403)
        expect(redis.connections).toBe(0)
      })

      it.skipIf(!hasBroker)('refuses an MQTT broker URL that resolves to the local broker', async () => {
        t = await createTestApp(engine)
        const device = (await create(t.operator, `mqtt://${loopbackName}:1883/myntrix-test/outbound`)).body
        const res = await t.request('POST', `${DEVICES}/${device.id}/connect`, { as: t.operator })
        expectDenied(res, `${loopbackName}:1883`)
      })
    })
  })

  describe('with MYNTRIX_OUTBOUND_ALLOW naming one port', () => {
    it('lets an operator reach exactly that port, and not another', async () => {
      t = await createTestApp(engine, { env: { MYNTRIX_OUTBOUND_ALLOW: `127.0.0.1:${redis.port}` } })
      const res = await create(t.operator, `tcp://127.0.0.1:${redis.port}`)
      expect(res.status).toBe(201)
      const connected = await t.request('POST', `${DEVICES}/${res.body.id}/connect`, { as: t.operator })
      expect(connected.body.status).toBe('connected')
      const reply = await t.request('POST', `${DEVICES}/${res.body.id}/command`, {
        as: t.operator,
        body: { command: 'SET k v' },
      })
      expect(reply.body.response).toEqual(['+OK'])

      expectDenied(await create(t.operator, `tcp://127.0.0.1:${other.port}`), `127.0.0.1:${other.port}`)
      expect(other.connections).toBe(0)
    })

    it.skipIf(!hasBroker)('127.0.0.1:1883 lets an operator use the local broker', async () => {
      t = await createTestApp(engine, { env: { MYNTRIX_OUTBOUND_ALLOW: '127.0.0.1:1883' } })
      const res = await create(t.operator, 'mqtt://127.0.0.1:1883/myntrix-test/outbound')
      expect(res.status).toBe(201)
      const connected = await t.request('POST', `${DEVICES}/${res.body.id}/connect`, { as: t.operator })
      expect(connected.body.status).toBe('connected')
      await t.request('POST', `${DEVICES}/${res.body.id}/disconnect`, { as: t.operator })
    })

    it('a device reopened after a restart is held to the policy of the new start', async () => {
      t = await createTestApp(engine, { env: { MYNTRIX_OUTBOUND_ALLOW: `127.0.0.1:${redis.port}` } })
      const device = (await create(t.operator, `tcp://127.0.0.1:${redis.port}`)).body
      await t.request('POST', `${DEVICES}/${device.id}/connect`, { as: t.operator })
      const before = redis.connections
      await t.close()
      t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false })
      const after = await waitFor(
        async () => {
          const res = await t.request('GET', `${DEVICES}/${device.id}`, { as: t.operator })
          return res.body.status === 'error' ? res.body : null
        },
        { what: 'the reopened device to be refused' },
      )
      expect(after.lastError).toContain('MYNTRIX_OUTBOUND_ALLOW')
      expect(redis.connections).toBe(before)
    })
  })

  describe('the devices service with a fixed resolver', () => {
    // The policy is the real one; only the name lookup is fixed, so these run the same on every host.
    const operator = (): Principal => ({
      id: t.operator.id,
      username: 'operator',
      role: 'operator',
      via: 'token',
    })
    const services: DevicesService[] = []
    afterEach(async () => {
      for (const s of services.splice(0)) await s.stop()
    })

    function service(answers: () => string[], allow = '') {
      const { db, bus, logger } = t.app.myntrix.context
      const { auth } = t.app.myntrix
      const s = new DevicesService({
        db,
        bus,
        logger,
        outbound: {
          policy: new OutboundPolicy({
            allow: parseOutboundAllow(allow),
            lookup: async () =>
              answers().map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
          }),
          roleOf: async (id) => (await auth.repo.findUserById(id))?.role,
        },
      })
      services.push(s)
      return s
    }

    it('connects to the address it checked, never resolving the name again', async () => {
      t = await createTestApp(engine)
      // printer.test exists only in this resolver: a socket that looked it up itself would fail.
      const s = service(() => ['127.0.0.1'], `127.0.0.1:${redis.port}`)
      const device = await s.create(operator(), {
        name: 'p',
        connectionString: `tcp://printer.test:${redis.port}`,
        configuration: { protocol: 'line' },
      })
      expect((await s.connect(operator(), device.id)).status).toBe('connected')
      expect((await s.command(operator(), device.id, 'SET k v')).response).toEqual(['+OK'])
    })

    it('two connects at once open one socket, though the check waits on the resolver', async () => {
      t = await createTestApp(engine)
      // The resolver holds its answers until both connects are waiting on it: the race, made certain.
      let waiting = 0
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const { db, bus, logger } = t.app.myntrix.context
      const { auth } = t.app.myntrix
      const s = new DevicesService({
        db,
        bus,
        logger,
        outbound: {
          policy: new OutboundPolicy({
            allow: parseOutboundAllow(`127.0.0.1:${redis.port}`),
            lookup: async () => {
              if (++waiting === 2) release()
              await gate
              return [{ address: '127.0.0.1', family: 4 }]
            },
          }),
          roleOf: async (id) => (await auth.repo.findUserById(id))?.role,
        },
      })
      services.push(s)
      const device = await s.create(operator(), {
        name: 'p',
        connectionString: `tcp://printer.test:${redis.port}`,
        configuration: { protocol: 'line' },
      })
      const [a, b] = await Promise.all([s.connect(operator(), device.id), s.connect(operator(), device.id)])
      expect([a.status, b.status]).toEqual(['connected', 'connected'])
      expect(redis.connections).toBe(1)
    })

    it('refuses a name that resolves to loopback at connect; status and desired state stay', async () => {
      t = await createTestApp(engine)
      const s = service(() => ['127.0.0.1'])
      const device = await s.create(operator(), {
        name: 'p',
        connectionString: `tcp://printer.test:${redis.port}`,
        configuration: { protocol: 'line' },
      })
      await expect(s.connect(operator(), device.id)).rejects.toMatchObject({
        status: 403,
        type: 'outbound-denied',
      })
      expect(await s.get(operator(), device.id)).toMatchObject({
        status: 'disconnected',
        lastError: null,
        desiredConnected: false,
      })
      expect(redis.connections).toBe(0)
    })

    it('refuses a name that rebinds to loopback between the check and the connect', async () => {
      t = await createTestApp(engine)
      // The first answer (the early check) is 127.0.0.2, which the allow-list opens; the transport's
      // own lookup then gets 127.0.0.1. The transport checks what it will connect to, so it is refused.
      let calls = 0
      const s = service(() => (calls++ === 0 ? ['127.0.0.2'] : ['127.0.0.1']), '127.0.0.2')
      const device = await s.create(operator(), {
        name: 'p',
        connectionString: `tcp://rebind.test:${redis.port}`,
        configuration: { protocol: 'line' },
      })
      await expect(s.connect(operator(), device.id)).rejects.toMatchObject({
        status: 403,
        type: 'outbound-denied',
      })
      expect(calls).toBe(2)
      expect(redis.connections).toBe(0)
      expect((await s.get(operator(), device.id)).desiredConnected).toBe(false)
    })
  })
})
