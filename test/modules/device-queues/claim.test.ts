// The claim that keeps two dispatchers (two passes, or two processes on one
// database) from starting two transfers on one device: one conditional update
// of the device's head row, raced here from separate connections' worth of
// repositories on each engine, then released, held and lifted.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { QueueRepository } from '../../../src/modules/device-queues/repository.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'

describe.each(testEngines())('the device claim on $name', (engine) => {
  let t: TestApp
  let deviceId: string

  beforeAll(async () => {
    t = await createTestApp(engine)
    const created = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: { name: 'printer', connectionString: 'sim://marlin' },
    })
    deviceId = created.body.id
  })
  afterAll(async () => {
    await t?.dispose()
  })

  it('gives a device to one claimant of many racing, and holds it until continue', async () => {
    const repos = Array.from({ length: 8 }, () => new QueueRepository(t.database.db))
    const wins = await Promise.all(
      repos.map((r, i) => r.claim(deviceId, `item-${i}`, `job-${i}`, new Date())),
    )
    expect(wins.filter(Boolean)).toHaveLength(1)
    const winner = wins.indexOf(true)
    const repo = repos[0]!
    expect((await repo.head(deviceId))?.itemId).toBe(`item-${winner}`)
    // Only the claimant's item releases it.
    expect(await repo.release(deviceId, 'someone-else', null, new Date())).toBe(false)
    expect(await repo.release(deviceId, `item-${winner}`, 'confirm', new Date())).toBe(true)
    expect(await repo.head(deviceId)).toMatchObject({
      itemId: null,
      hold: 'confirm',
      holdJobId: `job-${winner}`,
    })
    // Held: nobody claims it until the hold is lifted, once.
    expect(await repo.claim(deviceId, 'next', 'job-next', new Date())).toBe(false)
    expect(await repo.lift(deviceId, new Date())).toBe(true)
    expect(await repo.lift(deviceId, new Date())).toBe(false)
    expect(await repo.claim(deviceId, 'next', 'job-next', new Date())).toBe(true)
  })
})
