import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../../../src/db/ids.js'
import { migrate } from '../../../src/db/index.js'
import { toDbBool, toDbTime } from '../../../src/db/values.js'
import { DeviceFilesRepository } from '../../../src/modules/device-files/repository.js'
import { type TestDatabase, testEngines } from '../../helpers/engines.js'

describe.each(testEngines())('DeviceFilesRepository on $name', (engine) => {
  let testDb: TestDatabase
  let handle: ReturnType<TestDatabase['open']>
  let repo: DeviceFilesRepository
  const userId = newId()
  const deviceId = newId()
  const otherDeviceId = newId()
  const sha = (c: string) => c.repeat(64)

  beforeAll(async () => {
    testDb = await engine.createDatabase()
    handle = testDb.open()
    await migrate(handle)
    const now = toDbTime(new Date())
    await handle.db
      .insertInto('users')
      .values({
        id: userId,
        username: 'u',
        passwordHash: 'x',
        role: 'operator',
        disabled: toDbBool(false),
        createdAt: now,
        updatedAt: now,
      })
      .execute()
    for (const id of [deviceId, otherDeviceId]) {
      await handle.db
        .insertInto('devices')
        .values({
          id,
          name: id,
          type: 'printer',
          connectionString: 'sim://marlin',
          status: 'disconnected',
          configuration: null,
          ownerId: userId,
          desiredConnected: toDbBool(false),
          createdAt: now,
          updatedAt: now,
        })
        .execute()
    }
    repo = new DeviceFilesRepository(handle.db)
  })
  afterAll(async () => {
    await handle.close()
    await testDb.drop()
  })

  const file = (over: Partial<Parameters<DeviceFilesRepository['upsert']>[0]> = {}) => ({
    deviceId,
    ownerId: userId,
    name: 'a.gcode',
    sha256: sha('a'),
    sizeBytes: 5_000_000_000,
    kind: 'gcode' as const,
    lineCount: 2000,
    ...over,
  })

  it('records a file and reads it back with big sizes intact', async () => {
    const f = await repo.upsert(file(), new Date('2025-01-01T00:00:00Z'))
    expect(f).toMatchObject({ name: 'a.gcode', sizeBytes: 5_000_000_000, lineCount: 2000, kind: 'gcode' })
    expect(f.createdAt.toISOString()).toBe('2025-01-01T00:00:00.000Z')
    expect(await repo.get(deviceId, f.id)).toEqual(f)
  })

  it('keeps one row per device and content; a re-upload takes the newer name', async () => {
    const first = await repo.upsert(file({ sha256: sha('b'), name: 'old.gcode' }), new Date())
    const again = await repo.upsert(file({ sha256: sha('b'), name: 'new.gcode' }), new Date())
    expect(again.id).toBe(first.id)
    expect(again.name).toBe('new.gcode')
    const onOther = await repo.upsert(file({ sha256: sha('b'), deviceId: otherDeviceId }), new Date())
    expect(onOther.id).not.toBe(first.id)
  })

  it('lists one device only, with the total', async () => {
    const [items, total] = await repo.list(deviceId, { limit: 1, offset: 0 })
    expect(items).toHaveLength(1)
    expect(total).toBe(2)
    expect(items.every((i) => i.deviceId === deviceId)).toBe(true)
  })

  it('deletes within the device only and tracks references', async () => {
    const f = await repo.upsert(file({ sha256: sha('c') }), new Date())
    expect(await repo.delete(otherDeviceId, f.id)).toBe(false)
    expect(await repo.isReferenced(sha('c'))).toBe(true)
    expect(await repo.delete(deviceId, f.id)).toBe(true)
    expect(await repo.isReferenced(sha('c'))).toBe(false)
    expect(await repo.get(deviceId, f.id)).toBeUndefined()
  })

  it('loses the rows when the device is deleted', async () => {
    await handle.db.deleteFrom('devices').where('id', '=', otherDeviceId).execute()
    const [items] = await repo.list(otherDeviceId, { limit: 10, offset: 0 })
    expect(items).toEqual([])
  })
})
