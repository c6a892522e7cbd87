// The devices API through the real app (app.inject), on every engine.
// Devices use sim:// firmware here: the same connection and protocol code as
// a serial port; the pty, TCP and MQTT paths have their own suites.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DevicesService } from '../../../src/modules/devices/service.js'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'

function devicesOf(t: TestApp): DevicesService {
  return (t.app.myntrix.areas.find((a) => a.name === 'devices') as unknown as { service: DevicesService })
    .service
}

describe.each(testEngines())('devices API on $name', (engine) => {
  let t: TestApp

  beforeEach(async () => {
    t = await createTestApp(engine)
  })
  afterEach(async () => {
    await t.dispose()
  })

  async function create(as: TestUser, body: Record<string, unknown> = {}) {
    const res = await t.request('POST', '/api/myntrix/devices', {
      as,
      body: {
        name: 'Printer',
        type: 'printer',
        connectionString: 'sim://marlin',
        configuration: { temperatureReport: 'off' },
        ...body,
      },
    })
    expect(res.status).toBe(201)
    return res.body
  }

  it('requires authentication', async () => {
    expect((await t.request('GET', '/api/myntrix/devices')).status).toBe(401)
  })

  it('creates, reads, lists, updates and deletes a device', async () => {
    const device = await create(t.operator, { configuration: { protocol: 'marlin', baudRate: 250000 } })
    expect(device).toMatchObject({
      name: 'Printer',
      type: 'printer',
      connectionString: 'sim://marlin',
      status: 'disconnected',
      lastSeen: null,
      firmwareVersion: null,
      configuration: { protocol: 'marlin', baudRate: 250000 },
      ownerId: t.operator.id,
    })
    expect(device.createdAt).toMatch(/Z$/)

    const list = await t.request('GET', '/api/myntrix/devices', { as: t.operator })
    expect(list.status).toBe(200)
    expect(list.headers['x-total-count']).toBe('1')
    expect(list.body.map((d: { id: string }) => d.id)).toEqual([device.id])

    const updated = await t.request('PUT', `/api/myntrix/devices/${device.id}`, {
      as: t.operator,
      body: { name: 'Renamed', connectionString: '/dev/ttyUSB7' },
    })
    expect(updated.status).toBe(200)
    expect(updated.body).toMatchObject({ name: 'Renamed', connectionString: '/dev/ttyUSB7', type: 'printer' })

    const removed = await t.request('DELETE', `/api/myntrix/devices/${device.id}`, { as: t.operator })
    expect(removed).toMatchObject({ status: 200, body: { id: device.id, message: expect.any(String) } })
    expect((await t.request('GET', `/api/myntrix/devices/${device.id}`, { as: t.operator })).status).toBe(404)
  })

  it('honours limit and offset with X-Total-Count', async () => {
    for (const name of ['a', 'b', 'c']) await create(t.operator, { name })
    const page = await t.request('GET', '/api/myntrix/devices?limit=2&offset=1', { as: t.operator })
    expect(page.headers['x-total-count']).toBe('3')
    expect(page.body.map((d: { name: string }) => d.name)).toEqual(['b', 'c'])
  })

  it.each([
    [{ connectionString: 'ftp://nowhere' }, 'connectionString'],
    [{ connectionString: 'tcp://host' }, 'connectionString'],
    [{ connectionString: 'sim://unknown' }, 'connectionString'],
    [{ configuration: { protocol: 'klipper' } }, 'configuration.protocol'],
    [{ configuration: { baudRate: -5 } }, 'configuration.baudRate'],
    [{ configuration: { autoReconnect: 'sometimes' } }, 'configuration.autoReconnect'],
    // Strict, as the configuration always was: the route's type coercion does not apply to it.
    [{ configuration: { baudRate: '57600' } }, 'configuration.baudRate'],
    [{ configuration: { autoReconnect: 'true' } }, 'configuration.autoReconnect'],
    [{ name: '' }, 'name'],
  ])('rejects bad input %j with 400 at %s', async (body, path) => {
    const res = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: { name: 'x', connectionString: 'sim://marlin', ...body },
    })
    expect(res.status).toBe(400)
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path)
  })

  it('names the accepted forms when the connection string is wrong', async () => {
    const res = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: { name: 'x', connectionString: 'COM3' },
    })
    expect(res.status).toBe(400)
    expect(res.body.detail).toContain('tcp://host:port')
    expect(res.body.detail).toContain('mqtt://host:port/<topic-prefix>')
  })

  it('connects, commands and disconnects a sim://marlin device', async () => {
    const device = await create(t.operator)
    const connected = await t.request('POST', `/api/myntrix/devices/${device.id}/connect`, { as: t.operator })
    expect(connected.status).toBe(200)
    expect(connected.body).toMatchObject({
      status: 'connected',
      firmwareVersion: expect.stringMatching(/^Marlin/),
    })
    expect(connected.body.lastSeen).toMatch(/Z$/)

    const moved = await t.request('POST', `/api/myntrix/devices/${device.id}/command`, {
      as: t.operator,
      body: { command: 'G1 X5 Y5' },
    })
    expect(moved.status).toBe(200)
    expect(moved.body).toMatchObject({
      message: 'ok',
      ok: true,
      response: ['ok'],
      durationMs: expect.any(Number),
    })

    await t.request('POST', `/api/myntrix/devices/${device.id}/command`, {
      as: t.operator,
      body: { command: 'M114' },
    })
    const telemetry = await t.request('GET', `/api/myntrix/devices/${device.id}/telemetry?limit=5`, {
      as: t.operator,
    })
    expect(telemetry.status).toBe(200)
    expect(telemetry.body.at(-1)).toMatchObject({
      ts: expect.stringMatching(/Z$/),
      readings: { positionX: 5 },
    })

    const stored = await t.request('GET', `/api/myntrix/devices/${device.id}`, { as: t.operator })
    expect(stored.body.firmwareVersion).toMatch(/^Marlin/)

    const off = await t.request('POST', `/api/myntrix/devices/${device.id}/disconnect`, { as: t.operator })
    expect(off.body.status).toBe('disconnected')
    const late = await t.request('POST', `/api/myntrix/devices/${device.id}/command`, {
      as: t.operator,
      body: { command: 'M105' },
    })
    expect(late.status).toBe(409)
  })

  it('answers 504 when the firmware does not complete the command, and stays usable', async () => {
    const device = await create(t.operator)
    await t.request('POST', `/api/myntrix/devices/${device.id}/connect`, { as: t.operator })
    const connection = devicesOf(t).connectionOf(device.id)!
    const transport = (connection as unknown as { transport: { device: { mute(): void } } }).transport
    transport.device.mute()
    const res = await t.request('POST', `/api/myntrix/devices/${device.id}/command`, {
      as: t.operator,
      body: { command: 'M400', timeoutMs: 100 },
    })
    expect(res.status).toBe(504)
    expect(res.body.detail).toMatch(/no reply to "M400" within 100 ms/)
    const next = await t.request('POST', `/api/myntrix/devices/${device.id}/command`, {
      as: t.operator,
      body: { command: 'M105' },
    })
    expect(next.status).toBe(200)
  })

  it('answers a GRBL error as ok false with a readable message', async () => {
    const device = await create(t.operator, {
      connectionString: 'sim://grbl',
      configuration: { statusPollMs: 0 },
    })
    await t.request('POST', `/api/myntrix/devices/${device.id}/connect`, { as: t.operator })
    const res = await t.request('POST', `/api/myntrix/devices/${device.id}/command`, {
      as: t.operator,
      body: { command: 'G99' },
    })
    expect(res.body).toMatchObject({ ok: false, message: expect.stringMatching(/^error:20 Unsupported/) })
  })

  it('$C, $G and $I sent at once around a GRBL reset each answer 200 with their own reply', async () => {
    const device = await create(t.operator, {
      connectionString: 'sim://grbl',
      configuration: { statusPollMs: 0 },
    })
    await t.request('POST', `/api/myntrix/devices/${device.id}/connect`, { as: t.operator })
    const send = (command: string) =>
      t.request('POST', `/api/myntrix/devices/${device.id}/command`, { as: t.operator, body: { command } })
    expect((await send('$C')).body.response).toEqual(['[MSG:Enabled]', 'ok'])
    // Leaving check mode resets the controller just after $C's ok, with $G already on the wire.
    const [check, modes, info] = await Promise.all([send('$C'), send('$G'), send('$I')])
    expect(check.body).toMatchObject({ ok: true, response: ['[MSG:Disabled]', 'ok'] })
    // Before the fix: 502 "the controller reset; the command was lost", and $I got $G's reply.
    expect(modes.status).toBe(200)
    expect(modes.body.response).toEqual([expect.stringMatching(/^\[GC:/), 'ok'])
    expect(info.status).toBe(200)
    expect(info.body.response[0]).toMatch(/^\[VER:/)
  })

  it('a missing serial port answers 502 with ENOENT and leaves the device in error', async () => {
    const device = await create(t.operator, { connectionString: '/dev/myntrix-does-not-exist' })
    const res = await t.request('POST', `/api/myntrix/devices/${device.id}/connect`, { as: t.operator })
    expect(res.status).toBe(502)
    expect(res.body.detail).toMatch(/ENOENT/)
    const after = await t.request('GET', `/api/myntrix/devices/${device.id}`, { as: t.operator })
    expect(after.body).toMatchObject({ status: 'error', lastError: expect.stringMatching(/ENOENT/) })
  })

  it('rejects a bad command body with 400', async () => {
    const device = await create(t.operator)
    for (const body of [{}, { command: '' }, { command: 'M105', timeoutMs: 0 }, { command: 'a\nb' }]) {
      const res = await t.request('POST', `/api/myntrix/devices/${device.id}/command`, {
        as: t.operator,
        body,
      })
      expect(res.status, JSON.stringify(body)).toBe(400)
    }
  })

  it('refuses to change the link of a connected device (409)', async () => {
    const device = await create(t.operator)
    await t.request('POST', `/api/myntrix/devices/${device.id}/connect`, { as: t.operator })
    const res = await t.request('PUT', `/api/myntrix/devices/${device.id}`, {
      as: t.operator,
      body: { connectionString: 'sim://grbl' },
    })
    expect(res.status).toBe(409)
    const renamed = await t.request('PUT', `/api/myntrix/devices/${device.id}`, {
      as: t.operator,
      body: { name: 'n' },
    })
    expect(renamed.status).toBe(200)
  })

  it("hides another owner's device (404) and lets viewers read only (403)", async () => {
    const device = await create(t.operator)
    for (const [method, suffix] of [
      ['GET', ''],
      ['PUT', ''],
      ['DELETE', ''],
      ['POST', '/connect'],
      ['POST', '/disconnect'],
      ['POST', '/command'],
      ['GET', '/telemetry'],
    ] as const) {
      const res = await t.request(method, `/api/myntrix/devices/${device.id}${suffix}`, {
        as: t.operator2,
        body:
          method === 'GET' || method === 'DELETE'
            ? undefined
            : suffix === '/command'
              ? { command: 'M105' }
              : {},
      })
      expect(res.status, `${method} ${suffix}`).toBe(404)
    }
    expect((await t.request('GET', '/api/myntrix/devices', { as: t.operator2 })).body).toEqual([])
    expect((await t.request('GET', `/api/myntrix/devices/${device.id}`, { as: t.admin })).status).toBe(200)
    for (const suffix of ['/connect', '/disconnect', '/command']) {
      const res = await t.request('POST', `/api/myntrix/devices/${device.id}${suffix}`, {
        as: t.viewer,
        body: { command: 'M105' },
      })
      expect(res.status, suffix).toBe(403)
    }
    expect(
      (
        await t.request('POST', '/api/myntrix/devices', {
          as: t.viewer,
          body: { name: 'v', connectionString: 'sim://grbl' },
        })
      ).status,
    ).toBe(403)
  })

  it('lists ports or says why it cannot', async () => {
    const res = await t.request('GET', '/api/myntrix/devices/ports', { as: t.viewer })
    expect(res.status).toBe(200)
    expect(Array.isArray(res.body.ports)).toBe(true)
    if (res.body.ports.length === 0)
      expect(typeof res.body.reason === 'string' || res.body.reason === null).toBe(true)
  })

  it('never answers a stored MQTT password back', async () => {
    const device = await create(t.operator, {
      connectionString: 'mqtt://broker.lan:1883/lab/x',
      configuration: { username: 'u', password: 'secret' },
    })
    expect(device.configuration).toEqual({ username: 'u', password: '********' })
  })

  it('reopens connections that were open when the server stopped', async () => {
    const device = await create(t.operator)
    await t.request('POST', `/api/myntrix/devices/${device.id}/connect`, { as: t.operator })
    const idle = await create(t.operator, { name: 'idle' })
    await t.close()
    t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false })
    const back = await waitFor(
      async () => {
        const res = await t.request('GET', `/api/myntrix/devices/${device.id}`, { as: t.operator })
        return res.body.status === 'connected' ? res.body : null
      },
      { what: 'the device to reconnect after restart' },
    )
    expect(back.status).toBe('connected')
    const command = await t.request('POST', `/api/myntrix/devices/${device.id}/command`, {
      as: t.operator,
      body: { command: 'M105' },
    })
    expect(command.status).toBe(200)
    expect((await t.request('GET', `/api/myntrix/devices/${idle.id}`, { as: t.operator })).body.status).toBe(
      'disconnected',
    )
  })
})
