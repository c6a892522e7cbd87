// A device's nodeAffinity through the API, on every engine: the default on
// create (serial: the creating node; network and simulated: any node), an
// explicit null or name, bad names (400 with the path), changes only while
// the device is not meant to be connected (409), and the write conditional
// on it. On one instance the field changes nothing about where it connects.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'

const DEVICES = '/api/myntrix/devices'
const NODE = 'node-a.example_1'

describe.each(testEngines())('devices nodeAffinity on $name', (engine) => {
  let t: TestApp

  beforeEach(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_NODE_NAME: NODE } })
  })
  afterEach(async () => {
    await t.dispose()
  })

  async function create(body: Record<string, unknown>) {
    const res = await t.request('POST', DEVICES, { as: t.operator, body: { name: 'device', ...body } })
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    return res.body as Record<string, any>
  }
  const put = (id: string, body: unknown) => t.request('PUT', `${DEVICES}/${id}`, { as: t.operator, body })

  it('defaults serial devices to the creating node and the others to any node; keeps what is given', async () => {
    expect((await create({ connectionString: 'serial:///dev/ttyUSB7?baudRate=115200' })).nodeAffinity).toBe(
      NODE,
    )
    expect((await create({ connectionString: '/dev/ttyACM3' })).nodeAffinity).toBe(NODE)
    expect((await create({ connectionString: 'sim://marlin' })).nodeAffinity).toBeNull()
    expect((await create({ connectionString: 'tcp://printer.lan:23' })).nodeAffinity).toBeNull()
    expect((await create({ connectionString: 'mqtt://broker.lan:1883/lab' })).nodeAffinity).toBeNull()
    const free = await create({ connectionString: '/dev/ttyACM4', nodeAffinity: null })
    expect(free.nodeAffinity).toBeNull()
    const elsewhere = await create({ connectionString: 'sim://grbl', nodeAffinity: 'node-b' })
    expect(elsewhere.nodeAffinity).toBe('node-b')
    const read = await t.request('GET', `${DEVICES}/${elsewhere.id}`, { as: t.operator })
    expect(read.body.nodeAffinity).toBe('node-b')
    const list = await t.request('GET', DEVICES, { as: t.operator })
    expect((list.body as any[]).map((d) => d.nodeAffinity)).toEqual([
      NODE,
      NODE,
      null,
      null,
      null,
      null,
      'node-b',
    ])
  })

  it('refuses a name MYNTRIX_NODE_NAME would refuse, with its path, and stores nothing', async () => {
    for (const bad of ['', 'has space', 'a/b', 42]) {
      const res = await t.request('POST', DEVICES, {
        as: t.operator,
        body: { name: 'bad', connectionString: 'sim://marlin', nodeAffinity: bad },
      })
      expect(res.status, JSON.stringify(bad)).toBe(400)
      expect(JSON.stringify(res.body.errors)).toContain('nodeAffinity')
    }
    expect((await t.request('GET', DEVICES, { as: t.operator })).body).toEqual([])
  })

  it('changes only while the device is not meant to be connected', async () => {
    const device = await create({ connectionString: 'sim://marlin' })
    const moved = await put(device.id, { nodeAffinity: 'node-b' })
    expect(moved.status).toBe(200)
    expect(moved.body.nodeAffinity).toBe('node-b')
    expect((await put(device.id, { nodeAffinity: null })).body.nodeAffinity).toBeNull()

    const connected = await t.request('POST', `${DEVICES}/${device.id}/connect`, { as: t.operator })
    expect(connected.status).toBe(200)
    const refused = await put(device.id, { nodeAffinity: NODE })
    expect(refused.status).toBe(409)
    expect(refused.body.detail).toMatch(/disconnect it before changing its nodeAffinity/)
    // Sending the affinity it has is no change (a console saving the whole form); other fields still change.
    const same = await put(device.id, { nodeAffinity: null, name: 'renamed' })
    expect(same.status).toBe(200)
    expect(same.body).toMatchObject({ name: 'renamed', nodeAffinity: null })

    await t.request('POST', `${DEVICES}/${device.id}/disconnect`, { as: t.operator })
    expect((await put(device.id, { nodeAffinity: NODE })).body.nodeAffinity).toBe(NODE)
  })
})
