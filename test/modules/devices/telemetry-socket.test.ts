// The telemetry WebSocket over a real listening socket: snapshot first, many
// clients, ownership, and a client that stops reading does not hold back
// another.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'

interface Message {
  type: string
  deviceId?: string
  ts: string
  payload: any
  direction?: string
}

class Client {
  readonly messages: Message[] = []
  private waiters: (() => void)[] = []
  readonly closed: Promise<{ code: number; reason: string }>

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)))
      for (const w of this.waiters.splice(0)) w()
    })
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    )
  }

  async waitFor(match: (m: Message) => boolean): Promise<Message> {
    for (;;) {
      const found = this.messages.find(match)
      if (found) return found
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }
}

describe.each(testEngines())('telemetry WebSocket on $name', (engine) => {
  let t: TestApp
  let base: string
  const clients: Client[] = []

  beforeEach(async () => {
    t = await createTestApp(engine)
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const address = t.app.server.address() as { port: number }
    base = `ws://127.0.0.1:${address.port}`
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate()
    await t.dispose()
  })

  function open(deviceId: string, as: TestUser | null): Client {
    const url = `${base}/ws/myntrix/telemetry/${deviceId}${as ? `?token=${as.token}` : ''}`
    const client = new Client(new WebSocket(url))
    client.ws.on('error', () => {})
    clients.push(client)
    return client
  }

  async function connectedPrinter(as: TestUser) {
    const created = await t.request('POST', '/api/myntrix/devices', {
      as,
      body: { name: 'p', connectionString: 'sim://marlin', configuration: { temperatureReport: 'off' } },
    })
    const id = created.body.id as string
    expect((await t.request('POST', `/api/myntrix/devices/${id}/connect`, { as })).status).toBe(200)
    return id
  }

  const command = (id: string, text: string) =>
    t.request('POST', `/api/myntrix/devices/${id}/command`, { as: t.operator, body: { command: text } })

  it('sends status and the last snapshot first, then telemetry and logs of both directions', async () => {
    const id = await connectedPrinter(t.operator)
    await command(id, 'G1 X2')
    await command(id, 'M114')
    const client = open(id, t.operator)
    const first = await client.waitFor(() => true)
    expect(first).toMatchObject({ type: 'status', deviceId: id, payload: { status: 'connected' } })
    expect(first.payload.lastSeen).toMatch(/Z$/)
    expect(client.messages[1] ?? (await client.waitFor((m) => m.type === 'telemetry'))).toMatchObject({
      type: 'telemetry',
      payload: { positionX: 2 },
    })
    await command(id, 'G1 X9')
    await command(id, 'M114')
    await client.waitFor((m) => m.type === 'telemetry' && m.payload.positionX === 9)
    const out = await client.waitFor(
      (m) => m.type === 'log' && m.direction === 'out' && /G1 X9/.test(m.payload),
    )
    expect(out.ts).toMatch(/Z$/)
    await client.waitFor((m) => m.type === 'log' && m.direction === 'in' && m.payload.startsWith('X:9.00'))
  })

  it('two clients see the same telemetry, and status changes', async () => {
    const id = await connectedPrinter(t.operator)
    const a = open(id, t.operator)
    const b = open(id, t.admin)
    await a.waitFor((m) => m.type === 'status')
    await b.waitFor((m) => m.type === 'status')
    await command(id, 'G1 Y7')
    await command(id, 'M114')
    const seenA = await a.waitFor((m) => m.type === 'telemetry' && m.payload.positionY === 7)
    const seenB = await b.waitFor((m) => m.type === 'telemetry' && m.payload.positionY === 7)
    expect(seenA.payload).toEqual(seenB.payload)
    await t.request('POST', `/api/myntrix/devices/${id}/disconnect`, { as: t.operator })
    await a.waitFor((m) => m.type === 'status' && m.payload.status === 'disconnected')
    await b.waitFor((m) => m.type === 'status' && m.payload.status === 'disconnected')
  })

  it("closes with 4404 for an unknown or another owner's device", async () => {
    const id = await connectedPrinter(t.operator)
    expect((await open(id, t.operator2).closed).code).toBe(4404)
    expect((await open('no-such-device', t.operator).closed).code).toBe(4404)
  })

  it('a client that stops reading does not hold back another; its dropped logs are counted', async () => {
    const id = await connectedPrinter(t.operator)
    const slow = open(id, t.operator)
    const fast = open(id, t.operator)
    await slow.waitFor((m) => m.type === 'status')
    await fast.waitFor((m) => m.type === 'status')
    slow.ws.pause()
    const { bus } = t.app.myntrix.context
    const filler = 'x'.repeat(20_000)
    const batches = 40
    const perBatch = 50
    for (let batch = 0; batch < batches; batch++) {
      for (let i = 0; i < perBatch; i++) {
        bus.emit('device.log', {
          deviceId: id,
          ts: new Date().toISOString(),
          direction: 'in',
          line: `${batch}:${i} ${filler}`,
        })
      }
      // The fast client keeps up batch by batch while the slow one reads nothing.
      await fast.waitFor((m) => m.type === 'log' && m.payload.startsWith(`${batch}:${perBatch - 1} `))
    }
    const fastLogs = fast.messages.filter((m) => m.type === 'log' && m.payload.endsWith(filler))
    expect(fastLogs).toHaveLength(batches * perBatch)
    expect(fast.messages.some((m) => m.type === 'notice')).toBe(false)
    slow.ws.resume()
    const notice = await slow.waitFor((m) => m.type === 'notice')
    expect(notice.payload.dropped).toBeGreaterThan(0)
  })
})
