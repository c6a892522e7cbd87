import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DatabaseHandle, migrate } from '../../../src/db/index.js'
import { ValidationError } from '../../../src/errors.js'
import { MonitoringRepository } from '../../../src/modules/monitoring/repository.js'
import { HostSampler } from '../../../src/modules/monitoring/sampler.js'
import { MonitoringService } from '../../../src/modules/monitoring/service.js'
import type { MinuteAggregate } from '../../../src/modules/monitoring/types.js'
import { type TestDatabase, testEngines } from '../../helpers/engines.js'
import { ManualClock, makeFakeProc } from './fake-proc.js'

const T0 = Date.parse('2025-06-01T12:00:00Z')
const MIN = 60_000
const DAY = 86_400_000

function minute(minuteMs: number, cpu: number, memory: number, sampleCount = 60): MinuteAggregate {
  return {
    minuteMs,
    sampleCount,
    cpuAvg: cpu,
    cpuMax: cpu + 10,
    memoryAvg: memory,
    memoryMax: memory + 1,
    memoryUsedBytesAvg: 1000,
    memoryTotalBytes: 4000,
    swapPercentAvg: 0,
    load1Avg: 0.5,
    load1Max: 1,
    diskPercent: 40,
    netRxBytesPerSecAvg: 100,
    netRxBytesPerSecMax: 200,
    netTxBytesPerSecAvg: 10,
    netTxBytesPerSecMax: 20,
  }
}

describe.each(testEngines())('MonitoringService on $name', (engine) => {
  let testDb: TestDatabase
  let database: DatabaseHandle
  let repository: MonitoringRepository
  const cleanups: Array<() => unknown> = []

  beforeEach(async () => {
    testDb = await engine.createDatabase()
    database = testDb.open()
    await migrate(database)
    repository = new MonitoringRepository(database.db)
  })
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.()
    await database.close()
    await testDb.drop()
  })

  async function makeService(nowMs: number, retentionDays?: number) {
    const fake = await makeFakeProc()
    cleanups.push(fake.remove)
    const clock = new ManualClock(nowMs)
    const sampler = new HostSampler({
      procRoot: fake.root,
      diskPath: null,
      clock,
      onAggregate: (a) => repository.saveMinute(a),
    })
    const service = new MonitoringService({ sampler, repository, retentionDays, now: () => clock.now() })
    cleanups.push(() => service.stop())
    return { fake, clock, sampler, service }
  }

  it('stores minutes and merges a second row for the same minute by sample count', async () => {
    await repository.saveMinute(minute(T0, 10, 50, 30))
    await repository.saveMinute(minute(T0, 40, 20, 10))
    await repository.saveMinute(minute(T0 + MIN, 5, 5))
    const rows = await repository.listMinutes(T0, T0 + 2 * MIN)
    expect(rows).toHaveLength(2)
    expect(rows[0]).toMatchObject({
      minuteMs: T0,
      sampleCount: 40,
      cpuAvg: 17.5,
      cpuMax: 50,
      memoryAvg: 42.5,
      memoryMax: 51,
    })
    expect(rows[1]).toMatchObject({ minuteMs: T0 + MIN, sampleCount: 60, cpuAvg: 5, diskPercent: 40 })
    expect(await repository.listMinutes(T0 + MIN, T0 + MIN)).toEqual([])
  })

  it('prunes stored minutes past the retention, measured from its clock', async () => {
    for (const ageDays of [10, 8, 7.5, 6, 1, 0]) await repository.saveMinute(minute(T0 - ageDays * DAY, 1, 1))
    const { service } = await makeService(T0)
    expect(service.retentionDays).toBe(7)
    expect(await service.prune()).toBe(3)
    const left = await repository.listMinutes(T0 - 30 * DAY, T0 + MIN)
    expect(left.map((m) => (T0 - m.minuteMs) / DAY)).toEqual([6, 1, 0])
    // Two days later with a 2-day retention only today's row stays.
    const short = await makeService(T0 + 2 * DAY, 2)
    expect(await short.service.prune()).toBe(2)
    expect(await short.service.prune()).toBe(0)
  })

  it('serves a window older than memory from the table, weighted by sample counts', async () => {
    // Two hours ago, three stored minutes.
    const base = T0 - 2 * 3_600_000
    await repository.saveMinute(minute(base, 10, 30, 60))
    await repository.saveMinute(minute(base + MIN, 40, 60, 20))
    await repository.saveMinute(minute(base + 4 * MIN, 90, 90, 60))
    const { service } = await makeService(T0)
    const h = await service.history({ from: String(base), to: String(base + 10 * MIN), step: '5m' })
    expect(h).toMatchObject({ source: 'database', stepMs: 300_000, timestamps: [base] })
    // (10*60 + 40*20 + 90*60) / 140
    expect(h?.cpu).toEqual([48.57])
    expect(h?.cpuMax).toEqual([100])
    // Disk and network come from the stored minutes too (a minute row keeps the network's average only).
    expect(h?.disk).toEqual([40])
    expect(h?.netRx).toEqual([100])
    expect(h?.netTx).toEqual([10])
    const perMinute = await service.history({ from: String(base), to: String(base + 10 * MIN), step: '1m' })
    expect(perMinute?.timestamps).toEqual([base, base + MIN, base + 4 * MIN])
    // Asking for seconds from the table still answers minutes.
    const fine = await service.history({ from: String(base), to: String(base + 10 * MIN), step: '10s' })
    expect(fine?.stepMs).toBe(MIN)
  })

  it('serves a recent window from memory, and joins table and memory without counting a minute twice', async () => {
    const { fake, clock, sampler, service } = await makeService(T0 + 30_000)
    // Stored before this process: 12:00 (half a minute, as saved at a stop) and earlier.
    await repository.saveMinute(minute(T0 - MIN, 20, 20, 60))
    await repository.saveMinute(minute(T0, 20, 20, 30))
    let busy = 0
    await fake.write({ cores: [[0, 0]], memTotalKb: 100, memAvailableKb: 50 })
    await sampler.sampleNow()
    // Memory holds 12:00:31 .. 12:02:30 at 1 Hz, cpu 80 %.
    for (let i = 1; i <= 120; i++) {
      busy += 80
      await fake.write({ cores: [[busy, i * 100 - busy]], memTotalKb: 100, memAvailableKb: 50 })
      clock.nowMs = T0 + 30_000 + i * 1000
      await sampler.sampleNow()
    }
    const recent = await service.history({ window: '1m' })
    expect(recent?.source).toBe('memory')
    expect(recent?.timestamps).toHaveLength(61)
    expect(new Set(recent?.cpu)).toEqual(new Set([80]))

    const wide = await service.history({ window: '5m', step: '1m' })
    expect(wide?.source).toBe('mixed')
    // 12:00 comes from the table only (memory's first whole minute is 12:01).
    // The sampler saved its 29 samples of 12:00 into that row, merged with the
    // 30 stored ones: (30 * 20 + 29 * 80) / 59 = 49.49. Adding memory's 29 again
    // would give 59.5.
    expect(wide?.timestamps).toEqual([T0 - MIN, T0, T0 + MIN, T0 + 2 * MIN])
    expect(wide?.cpu).toEqual([20, 49.49, 80, 80])
  })

  it('waits for the first sample, and refuses when the sampler is not running', async () => {
    const { fake, clock, sampler, service } = await makeService(T0)
    await expect(service.current()).rejects.toMatchObject({ status: 503 })
    await fake.write({ cores: [[0, 0]], memTotalKb: 100, memAvailableKb: 50 })
    sampler.start()
    const current = service.current()
    await expect.poll(() => clock.pendingDueMs).toBe(T0 + 1000)
    await fake.write({ cores: [[50, 50]], memTotalKb: 100, memAvailableKb: 25 })
    clock.fire()
    expect((await current).memory.percent).toBe(75)
  })

  it('answers null without history parameters and 400 for bad ones', async () => {
    const { service } = await makeService(T0)
    expect(await service.history({})).toBeNull()
    await expect(service.history({ window: 'soon' })).rejects.toBeInstanceOf(ValidationError)
  })
})
