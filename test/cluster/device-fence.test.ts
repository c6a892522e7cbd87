// The device row's guards in a cluster, on a real database with two lease
// managers (two "nodes"): a report fenced by a lease that was taken over
// changes nothing while the new holder's lands, and what a node that holds
// nothing may say about a device (`node lost`) lands only while nobody holds it.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Lease, LeaseManager } from '../../src/cluster/leases.js'
import { Membership } from '../../src/cluster/membership.js'
import { newId } from '../../src/db/ids.js'
import { type DatabaseHandle, migrate } from '../../src/db/index.js'
import { toDbTime } from '../../src/db/values.js'
import { DEVICE_LEASE } from '../../src/modules/devices/clustered-service.js'
import { DevicesRepository } from '../../src/modules/devices/repository.js'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'

describe.each(testEngines())('device row guards on $name', (engine) => {
  let testDb: TestDatabase
  const handles: DatabaseHandle[] = []
  const managers: LeaseManager[] = []
  let deviceId: string

  beforeEach(async () => {
    testDb = await engine.createDatabase()
    const h = testDb.open()
    handles.push(h)
    await migrate(h)
    const now = toDbTime(new Date())
    await h.db
      .insertInto('users')
      .values({
        id: 'u1',
        username: 'u1',
        passwordHash: 'x',
        role: 'operator',
        createdAt: now,
        updatedAt: now,
      } as never)
      .execute()
    deviceId = newId()
    await new DevicesRepository(h.db).insert({
      id: deviceId,
      name: 'printer',
      type: 'printer',
      connectionString: 'sim://marlin',
      status: 'disconnected',
      lastSeen: null,
      firmwareVersion: null,
      configuration: {},
      ownerId: 'u1',
      lastError: null,
      desiredConnected: true,
      nodeAffinity: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    })
  })
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.stop()
    for (const h of handles.splice(0)) await h.close().catch(() => {})
    await testDb.drop()
  })

  function node(name: string) {
    const handle = testDb.open()
    handles.push(handle)
    const membership = new Membership(handle.db, handle.engine, { id: newId(), name }, 300)
    const manager = new LeaseManager({
      db: handle.db,
      engine: handle.engine,
      membership,
      ttlMs: 300,
      renewIntervalMs: 100,
    })
    managers.push(manager)
    return { repo: new DevicesRepository(handle.db), manager }
  }

  it("refuses a former holder's report and lets the new holder's land", async () => {
    const a = node('node-a')
    const b = node('node-b')
    const first = (await a.manager.acquire(DEVICE_LEASE, deviceId, null)) as Lease
    expect(
      await a.repo.update(deviceId, { status: 'connected' }, false, a.manager.fenceExpression(first)),
    ).toBe(true)
    // A does not renew (never started): B takes the device once the lease lapses.
    const second = await waitFor(() => b.manager.acquire(DEVICE_LEASE, deviceId, null), {
      what: 'B to take the lapsed lease',
      timeoutMs: 5000,
    })
    expect(second.epoch).toBe(first.epoch + 1)
    expect(
      await b.repo.update(
        deviceId,
        { status: 'connected', lastError: null },
        false,
        b.manager.fenceExpression(second),
      ),
    ).toBe(true)
    // A wakes and reports its connection's end: nothing changes.
    expect(
      await a.repo.update(
        deviceId,
        { status: 'error', lastError: 'from a' },
        false,
        a.manager.fenceExpression(first),
      ),
    ).toBe(false)
    expect(await a.repo.get(deviceId)).toMatchObject({ status: 'connected', lastError: null })
  })

  it('lets a node that holds nothing say `node lost` only while nobody holds the device', async () => {
    const a = node('node-a')
    const c = node('node-c')
    const held = (await a.manager.acquire(DEVICE_LEASE, deviceId, 'node-a')) as Lease
    const lost = { status: 'error' as const, lastError: 'node lost: node "node-a" is not running' }
    expect(
      await c.repo.update(deviceId, lost, false, c.manager.unheldExpression(DEVICE_LEASE, deviceId)),
    ).toBe(false)
    expect((await c.repo.get(deviceId))?.status).toBe('disconnected')
    await a.manager.release(DEVICE_LEASE, deviceId)
    expect(await a.manager.stillHolds(held)).toBe(false)
    expect(
      await c.repo.update(deviceId, lost, false, c.manager.unheldExpression(DEVICE_LEASE, deviceId)),
    ).toBe(true)
    expect(await c.repo.get(deviceId)).toMatchObject(lost)
  })
})
