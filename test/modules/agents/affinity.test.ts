// An agent's nodeAffinity through the API, on every engine: the default on
// create, null, bad names, changes (only while stopped), owner scoping. On one
// instance the field changes nothing about where the agent runs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { isAlive, node } from './helpers.js'

const AGENTS = '/api/myntrix/agents'
const NODE = 'node-a.example_1'

describe.each(testEngines())('agents nodeAffinity on $name', (engine) => {
  let t: TestApp

  beforeEach(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_NODE_NAME: NODE } })
  })
  afterEach(async () => {
    await t.dispose()
  })

  async function create(body: Record<string, unknown>, as: TestUser = t.operator) {
    const res = await t.request('POST', AGENTS, { as, body: { name: 'agent', ...body } })
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    return res.body as Record<string, any>
  }
  const put = (id: string, body: unknown, as: TestUser = t.operator) =>
    t.request('PUT', `${AGENTS}/${id}`, { as, body })

  it('defaults to the creating node, keeps an explicit null or name, and shows it everywhere', async () => {
    const pinned = await create({})
    expect(pinned.nodeAffinity).toBe(NODE)
    const anyNode = await create({ nodeAffinity: null })
    expect(anyNode.nodeAffinity).toBeNull()
    const elsewhere = await create({ nodeAffinity: 'node-b' })
    expect(elsewhere.nodeAffinity).toBe('node-b')

    expect(
      (await t.request('GET', `${AGENTS}/${anyNode.id}`, { as: t.operator })).body.nodeAffinity,
    ).toBeNull()
    const list = await t.request('GET', AGENTS, { as: t.operator })
    expect(list.body.map((a: any) => a.nodeAffinity)).toEqual([NODE, null, 'node-b'])
  })

  it('answers 400 with the path for a name MYNTRIX_NODE_NAME would refuse, and writes nothing', async () => {
    for (const bad of ['node b', '', 'x'.repeat(129), 'nödé', 'a/b', 5, true, {}]) {
      const res = await t.request('POST', AGENTS, {
        as: t.operator,
        body: { name: 'bad', nodeAffinity: bad },
      })
      expect(res.status, JSON.stringify(bad)).toBe(400)
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
      expect(res.body.errors[0].path, JSON.stringify(bad)).toBe('nodeAffinity')
    }
    expect((await t.request('GET', AGENTS, { as: t.operator })).headers['x-total-count']).toBe('0')

    const a = await create({})
    const res = await put(a.id, { nodeAffinity: 'has space' })
    expect(res.status).toBe(400)
    expect(res.body.errors[0].path).toBe('nodeAffinity')
    expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body.nodeAffinity).toBe(NODE)
  })

  it('changes with PUT, to a name or to null, alone or beside other fields', async () => {
    const a = await create({})
    const toB = await put(a.id, { nodeAffinity: 'node-b', name: 'moved' })
    expect(toB.status).toBe(200)
    expect(toB.body).toMatchObject({ nodeAffinity: 'node-b', name: 'moved' })
    const toAny = await put(a.id, { nodeAffinity: null })
    expect(toAny.status).toBe(200)
    expect(toAny.body.nodeAffinity).toBeNull()
    // A PUT without the field leaves it.
    expect((await put(a.id, { type: 'other' })).body.nodeAffinity).toBeNull()
    expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body.nodeAffinity).toBeNull()
  })

  it("is only another operator's to change when it is theirs: 404, and viewers 403", async () => {
    const a = await create({})
    expect((await put(a.id, { nodeAffinity: null }, t.operator2)).status).toBe(404)
    expect((await put(a.id, { nodeAffinity: null }, t.viewer)).status).toBe(403)
    expect((await put(a.id, { nodeAffinity: null }, t.admin)).body.nodeAffinity).toBeNull()
    expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body.nodeAffinity).toBeNull()
  })

  it('changes nothing on one instance, and is refused with 409 while the agent runs', async () => {
    // Pinned to a node that is not this one: one instance runs it anyway (no cluster, no placement).
    const a = await create({ nodeAffinity: 'node-b', configuration: { command: node('ticks.mjs') } })
    const started = await t.request('POST', `${AGENTS}/${a.id}/start`, { as: t.operator })
    expect(started.status).toBe(200)
    expect(started.body.status).toBe('running')
    const pid = started.body.pid as number
    expect(isAlive(pid)).toBe(true)

    const refused = await put(a.id, { nodeAffinity: null, name: 'renamed' })
    expect(refused.status).toBe(409)
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/)
    expect(refused.body.detail).toMatch(/stop it before changing its nodeAffinity/)
    // Nothing of the refused request was written.
    const after = await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })
    expect(after.body).toMatchObject({ nodeAffinity: 'node-b', name: 'agent', status: 'running' })
    // The affinity it already has is no change (a form saved whole).
    expect((await put(a.id, { nodeAffinity: 'node-b', name: 'renamed' })).status).toBe(200)

    expect((await t.request('POST', `${AGENTS}/${a.id}/stop`, { as: t.operator })).status).toBe(200)
    expect(isAlive(pid)).toBe(false)
    const changed = await put(a.id, { nodeAffinity: null })
    expect(changed.status).toBe(200)
    expect(changed.body).toMatchObject({ nodeAffinity: null, name: 'renamed', status: 'stopped' })
  })
})
