// Leases on a real database, two lease managers (two "nodes") in one test
// process contending for the same resources: only one wins, the epoch goes up
// when the holder changes, an expired lease is taken over, a former holder's
// fenced write is refused, affinity is respected, and a node that cannot renew
// stops what it holds before anyone may take it.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Lease, LeaseManager, type LossReason } from '../../src/cluster/leases.js'
import { Membership } from '../../src/cluster/membership.js'
import { newId } from '../../src/db/ids.js'
import { type DatabaseHandle, migrate } from '../../src/db/index.js'
import { rawQuery } from '../../src/db/raw.js'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'

describe.each(testEngines())('leases on $name', (engine) => {
  let testDb: TestDatabase
  const handles: DatabaseHandle[] = []
  const managers: LeaseManager[] = []

  beforeEach(async () => {
    testDb = await engine.createDatabase()
    const h = testDb.open()
    handles.push(h)
    await migrate(h)
  })
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.stop()
    for (const h of handles.splice(0)) await h.close().catch(() => {})
    await testDb.drop()
  })

  /** A node on its own database connection, as a second server process would have. */
  function node(name: string, opts: { ttlMs?: number; renewIntervalMs?: number } = {}) {
    const handle = testDb.open()
    handles.push(handle)
    const ttlMs = opts.ttlMs ?? 10_000
    const membership = new Membership(handle.db, handle.engine, { id: newId(), name }, ttlMs)
    const manager = new LeaseManager({
      db: handle.db,
      engine: handle.engine,
      membership,
      ttlMs,
      renewIntervalMs: opts.renewIntervalMs ?? Math.floor(ttlMs / 3),
    })
    managers.push(manager)
    const lost: { lease: Lease; reason: LossReason }[] = []
    manager.onLost('agent', (lease, reason) => {
      lost.push({ lease, reason })
    })
    return { handle, membership, manager, lost }
  }

  it('gives a free resource to one of two contenders, and keeps the epoch while the holder renews', async () => {
    const a = node('node-a')
    const b = node('node-b')
    const [la, lb] = await Promise.all([
      a.manager.acquire('agent', 'x', null),
      b.manager.acquire('agent', 'x', null),
    ])
    expect([la, lb].filter((l) => l !== null)).toHaveLength(1)
    const winner = la ? a : b
    const lease = (la ?? lb) as Lease
    expect(lease.epoch).toBe(1)
    // Acquiring again and renewing keep it the winner's, same epoch.
    expect(await winner.manager.acquire('agent', 'x', null)).toEqual(lease)
    await winner.manager.renewAll()
    expect(winner.lost).toEqual([])
    expect(await winner.manager.stillHolds(lease)).toBe(true)
    const holder = await a.manager.holder('agent', 'x')
    expect(holder).toEqual({ nodeId: winner.manager.nodeId, nodeName: winner.manager.nodeName, epoch: 1 })
  })

  it('lets another node take an expired lease, bumps the epoch and fences the former holder', async () => {
    const a = node('node-a', { ttlMs: 300, renewIntervalMs: 100 })
    const b = node('node-b', { ttlMs: 300, renewIntervalMs: 100 })
    const first = (await a.manager.acquire('agent', 'x', null)) as Lease
    expect(first.epoch).toBe(1)
    // A is not renewing (it was never started): B gets nothing until the lease expires.
    expect(await b.manager.acquire('agent', 'x', null)).toBeNull()
    const second = await waitFor(() => b.manager.acquire('agent', 'x', null), {
      what: 'B to take the expired lease',
      timeoutMs: 5000,
    })
    expect(second.epoch).toBe(2)

    // A's write fenced by its old epoch changes nothing; B's lands.
    await rawQuery(
      handles[0]!.db,
      handles[0]!.engine,
      "insert into nodes (id, started_at, heartbeat_at) values ('row', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
      [],
    )
    const write = async (who: typeof a, lease: Lease, value: string) => {
      const f = who.manager.fence(lease)
      return rawQuery(
        who.handle.db,
        who.handle.engine,
        `update nodes set hostname = ? where id = 'row' and ${f.sql} returning id`,
        [value, ...f.params],
      )
    }
    expect(await write(a, first, 'from a')).toHaveLength(0)
    expect(await write(b, second, 'from b')).toHaveLength(1)
    expect(await a.manager.stillHolds(first)).toBe(false)

    // A's next renewal finds it overdue (it never renewed) and tells its holder to stop it.
    await a.manager.renewAll()
    expect(a.lost).toEqual([{ lease: first, reason: 'expired' }])
    expect(a.manager.holding('agent', 'x')).toBeUndefined()
  })

  it('gives a pinned resource only to the node it names', async () => {
    const a = node('node-a')
    const b = node('node-b')
    expect(await b.manager.acquire('agent', 'pinned', 'node-a')).toBeNull()
    expect(await a.manager.acquire('agent', 'pinned', 'node-a')).toMatchObject({ epoch: 1 })
    // Released by A, still not B's.
    await a.manager.release('agent', 'pinned')
    expect(await a.manager.holder('agent', 'pinned')).toBeNull()
    expect(await b.manager.acquire('agent', 'pinned', 'node-a')).toBeNull()
    // A taking it again after a release is a new holding: the epoch goes up.
    expect(await a.manager.acquire('agent', 'pinned', 'node-a')).toMatchObject({ epoch: 2 })
  })

  it('hands a released lease over at once, without waiting for the TTL', async () => {
    const a = node('node-a')
    const b = node('node-b')
    await a.manager.acquire('agent', 'x', null)
    expect(await b.manager.acquire('agent', 'x', null)).toBeNull()
    await a.manager.release('agent', 'x')
    expect(await b.manager.acquire('agent', 'x', null)).toMatchObject({ epoch: 2 })
  })

  it('stops what it holds when it cannot renew, before another node can take it', async () => {
    const a = node('node-a', { ttlMs: 1200, renewIntervalMs: 300 })
    const b = node('node-b', { ttlMs: 1200, renewIntervalMs: 300 })
    await a.manager.start()
    const lease = (await a.manager.acquire('agent', 'x', null)) as Lease
    const events: string[] = []
    a.manager.onLost('agent', (l, reason) => {
      events.push(`a stopped ${l.id} (${reason})`)
    })
    // A loses its database: its renewals fail from now on.
    await a.handle.close()
    const taken = await waitFor(
      async () => {
        const l = await b.manager.acquire('agent', 'x', null)
        if (l) events.push('b took x')
        return l
      },
      { what: 'B to take the lease A could not renew', timeoutMs: 10_000 },
    )
    expect(taken.epoch).toBe(lease.epoch + 1)
    expect(events).toEqual(['a stopped x (expired)', 'b took x'])
  })

  it('lists live nodes by the database clock; a node that leaves is gone at once', async () => {
    const a = node('node-a')
    const b = node('node-b', { ttlMs: 300 })
    await a.membership.join()
    await b.membership.join()
    expect((await a.membership.live()).map((n) => n.name).sort()).toEqual(['node-a', 'node-b'])
    // B stops renewing: lost after its TTL.
    await waitFor(
      async () => ((await a.membership.live()).map((n) => n.name).join() === 'node-a' ? true : undefined),
      { what: 'B to be lost', timeoutMs: 5000 },
    )
    await a.membership.leave()
    expect(await a.membership.live()).toEqual([])
  })
})
