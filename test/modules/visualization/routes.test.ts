import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { newId } from '../../../src/db/ids.js'
import { toDbJson, toDbTime } from '../../../src/db/values.js'
import { distance, MIN_DISTANCE } from '../../../src/modules/visualization/layout.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'

async function insertAgent(
  t: TestApp,
  ownerId: string,
  fields: Partial<{ type: string; status: string; configuration: unknown }> = {},
) {
  const id = newId()
  const at = toDbTime(new Date())
  await t.database.db
    .insertInto('agents')
    .values({
      id,
      name: `agent-${id.slice(-4)}`,
      type: fields.type ?? 'llm',
      status: fields.status ?? 'stopped',
      desiredState: 'stopped',
      health: 80,
      configuration: toDbJson(fields.configuration ?? {}),
      ownerId,
      restarts: 0,
      createdAt: at,
      updatedAt: at,
    })
    .execute()
  return id
}

async function insertDevice(
  t: TestApp,
  ownerId: string,
  fields: Partial<{ type: string; status: string }> = {},
) {
  const id = newId()
  const at = toDbTime(new Date())
  await t.database.db
    .insertInto('devices')
    .values({
      id,
      name: `device-${id.slice(-4)}`,
      type: fields.type ?? 'printer',
      connectionString: 'sim://marlin',
      status: fields.status ?? 'disconnected',
      configuration: toDbJson({}),
      ownerId,
      desiredConnected: 0,
      createdAt: at,
      updatedAt: at,
    })
    .execute()
  return id
}

describe.each(testEngines())('visualization on $name', (engine) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp(engine)
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('answers the scene with its documented shape', async () => {
    const deviceId = await insertDevice(t, t.operator.id, { status: 'connected' })
    const agentId = await insertAgent(t, t.operator.id, { status: 'running', configuration: { deviceId } })
    const res = await t.request('GET', '/api/myntrix/visualization-data', { as: t.operator })
    expect(res.status).toBe(200)
    const scene = res.body
    expect(Object.keys(scene).sort()).toEqual(['agents', 'core', 'devices', 'links', 'summary', 'timestamp'])
    expect(scene.core).toMatchObject({ id: 'core', position: [0, 0, 0] })
    const agent = scene.agents.find((a: { id: string }) => a.id === agentId)
    expect(agent).toMatchObject({ status: 'running', color: '#22c55e', animation: 'orbit', health: 80 })
    expect(agent.position).toHaveLength(3)
    expect(agent.orbit.radius).toBeGreaterThan(0)
    const device = scene.devices.find((d: { id: string }) => d.id === deviceId)
    expect(device).toMatchObject({ status: 'connected', color: '#22c55e' })
    expect(scene.links).toContainEqual(
      expect.objectContaining({ kind: 'agent-device', source: agentId, target: deviceId }),
    )
    expect(scene.summary.agents.running).toBeGreaterThanOrEqual(1)
    expect(scene.summary.jobs).toMatchObject({ running: 0 })
  })

  it('scopes the scene to the caller; admins see everything', async () => {
    const mine = await insertAgent(t, t.operator2.id)
    const theirs = await insertAgent(t, t.operator.id)
    const asOp2 = (await t.request('GET', '/api/myntrix/visualization-data', { as: t.operator2 })).body
    const ids = asOp2.agents.map((a: { id: string }) => a.id)
    expect(ids).toContain(mine)
    expect(ids).not.toContain(theirs)
    const asAdmin = (await t.request('GET', '/api/myntrix/visualization-data', { as: t.admin })).body
    expect(asAdmin.agents.map((a: { id: string }) => a.id)).toEqual(expect.arrayContaining([mine, theirs]))
    expect((await t.request('GET', '/api/myntrix/visualization-data')).status).toBe(401)
  })

  it('keeps an entity in place across calls and when others come and go', async () => {
    const id = await insertAgent(t, t.operator.id, { type: 'stable' })
    const before = (await t.request('GET', '/api/myntrix/visualization-data', { as: t.admin })).body
    const pos = before.agents.find((a: { id: string }) => a.id === id).position
    const added = [
      await insertAgent(t, t.operator.id, { type: 'stable' }),
      await insertAgent(t, t.operator.id),
    ]
    const after = (await t.request('GET', '/api/myntrix/visualization-data', { as: t.admin })).body
    expect(after.agents.find((a: { id: string }) => a.id === id).position).toEqual(pos)
    // Every entity that existed before is where it was.
    for (const a of before.agents) {
      expect(after.agents.find((b: { id: string }) => b.id === a.id).position).toEqual(a.position)
    }
    await t.database.db.deleteFrom('agents').where('id', 'in', added).execute()
    const again = (await t.request('GET', '/api/myntrix/visualization-data', { as: t.admin })).body
    expect(again.agents.find((a: { id: string }) => a.id === id).position).toEqual(pos)
  })

  it('never places two of 500 agents and 500 devices closer than the minimum distance', async () => {
    const types = ['llm', 'vision', 'planner', 'crawler', 'router']
    const now = toDbTime(new Date())
    const agentRows = Array.from({ length: 500 }, (_, i) => ({
      id: newId(),
      name: `bulk-${i}`,
      type: types[i % types.length]!,
      status: 'stopped',
      desiredState: 'stopped',
      health: 50,
      configuration: '{}',
      ownerId: t.operator2.id,
      restarts: 0,
      createdAt: now,
      updatedAt: now,
    }))
    const deviceRows = Array.from({ length: 500 }, (_, i) => ({
      id: newId(),
      name: `bulk-${i}`,
      type: ['printer', 'cnc', 'esp32'][i % 3]!,
      connectionString: 'sim://grbl',
      status: 'disconnected',
      configuration: '{}',
      ownerId: t.operator2.id,
      desiredConnected: 0,
      createdAt: now,
      updatedAt: now,
    }))
    for (let i = 0; i < 500; i += 100) {
      await t.database.db
        .insertInto('agents')
        .values(agentRows.slice(i, i + 100))
        .execute()
      await t.database.db
        .insertInto('devices')
        .values(deviceRows.slice(i, i + 100))
        .execute()
    }
    const scene = (await t.request('GET', '/api/myntrix/visualization-data', { as: t.admin })).body
    const points: [number, number, number][] = [
      [0, 0, 0],
      ...scene.agents.map((a: { position: [number, number, number] }) => a.position),
      ...scene.devices.map((d: { position: [number, number, number] }) => d.position),
    ]
    expect(points.length).toBeGreaterThanOrEqual(1001)
    let min = Number.POSITIVE_INFINITY
    for (let i = 0; i < points.length; i++) {
      for (let j = i + 1; j < points.length; j++) min = Math.min(min, distance(points[i]!, points[j]!))
    }
    expect(min).toBeGreaterThanOrEqual(MIN_DISTANCE)
  })

  it('streams a snapshot, then deltas with only what changed (WebSocket)', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const a1 = await insertAgent(t, t.operator.id, { type: 'delta' })
    const a2 = await insertAgent(t, t.operator.id, { type: 'delta' })
    const ws = new WebSocket(
      `${address.replace('http', 'ws')}/ws/myntrix/visualization?token=${t.operator.token}`,
    )
    const messages: any[] = []
    const next = (pred: (m: any) => boolean) =>
      new Promise<any>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching message within 5 s')), 5000)
        const check = () => {
          const m = messages.find(pred)
          if (m) {
            clearTimeout(timer)
            resolve(m)
          }
        }
        ws.on('message', (data) => {
          messages.push(JSON.parse(String(data)))
          check()
        })
      })
    try {
      const snapshot = await next((m) => m.type === 'snapshot')
      expect(snapshot.payload.agents.map((a: { id: string }) => a.id)).toEqual(
        expect.arrayContaining([a1, a2]),
      )
      expect(typeof snapshot.ts).toBe('string')

      const changedAt = Date.now()
      await t.database.db
        .updateTable('agents')
        .set({ status: 'running', health: 100 })
        .where('id', '=', a1)
        .execute()
      t.app.myntrix.context.bus.emit('agent.status', {
        agentId: a1,
        ownerId: t.operator.id,
        status: 'running',
        health: 100,
        pid: 1,
      })
      const delta = await next(
        (m) => m.type === 'delta' && m.payload.agents.some((a: { id: string }) => a.id === a1),
      )
      expect(Date.now() - changedAt).toBeLessThan(1000)
      expect(delta.payload.agents.map((a: { id: string }) => a.id)).toEqual([a1])
      expect(delta.payload.agents[0]).toMatchObject({
        status: 'running',
        color: '#22c55e',
        emissiveIntensity: 1,
      })
      expect(delta.payload.devices).toEqual([])
    } finally {
      ws.close()
      await once(ws, 'close')
    }
  })

  it('pushes a started agent to the stream within a second', async () => {
    const address = t.app.server.listening
      ? `http://127.0.0.1:${(t.app.server.address() as any).port}`
      : await t.app.listen({ port: 0, host: '127.0.0.1' })
    const created = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: {
        name: 'scene-probe',
        type: 'probe',
        configuration: {
          command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
          stopTimeoutMs: 2000,
        },
      },
    })
    expect(created.status).toBe(201)
    const id = created.body.id
    const ws = new WebSocket(
      `${address.replace('http', 'ws')}/ws/myntrix/visualization?token=${t.operator.token}`,
    )
    const messages: any[] = []
    ws.on('message', (data) => messages.push(JSON.parse(String(data))))
    const waitFor = async (pred: (m: any) => boolean, ms: number) => {
      const deadline = Date.now() + ms
      while (Date.now() < deadline) {
        const found = messages.find(pred)
        if (found) return found
        await new Promise((r) => setTimeout(r, 10))
      }
      throw new Error('no matching message in time')
    }
    try {
      const snapshot = await waitFor((m) => m.type === 'snapshot', 5000)
      expect(snapshot.payload.agents.find((a: { id: string }) => a.id === id).status).toBe('stopped')
      const startedAt = Date.now()
      const started = await t.request('POST', `/api/myntrix/agents/${id}/start`, { as: t.operator })
      expect(started.status).toBe(200)
      const delta = await waitFor(
        (m) => m.type === 'delta' && m.payload.agents.some((a: any) => a.id === id && a.status === 'running'),
        1000,
      )
      expect(Date.now() - startedAt).toBeLessThan(1000)
      expect(delta.payload.agents.find((a: any) => a.id === id)).toMatchObject({
        color: '#22c55e',
        animation: 'orbit',
      })
    } finally {
      ws.close()
      await once(ws, 'close')
      await t.request('DELETE', `/api/myntrix/agents/${id}`, { as: t.operator })
    }
  })

  it('streams over Server-Sent Events with the token in the query', async () => {
    const address = t.app.server.listening
      ? `http://127.0.0.1:${(t.app.server.address() as any).port}`
      : await t.app.listen({ port: 0, host: '127.0.0.1' })
    const controller = new AbortController()
    const res = await fetch(`${address}/api/myntrix/visualization-stream?token=${t.viewer.token}`, {
      signal: controller.signal,
    })
    try {
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain('text/event-stream')
      const reader = res.body!.getReader()
      let text = ''
      while (!text.includes('event: snapshot')) {
        const { value, done } = await reader.read()
        if (done) break
        text += new TextDecoder().decode(value)
      }
      expect(text).toContain('event: snapshot')
      const data = JSON.parse(text.split('event: snapshot\ndata: ')[1]!.split('\n')[0]!)
      expect(data.payload.agents).toEqual([])
    } finally {
      controller.abort()
    }
    const denied = await fetch(`${address}/api/myntrix/visualization-stream`)
    expect(denied.status).toBe(401)
  })
})
