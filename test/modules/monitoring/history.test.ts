import { describe, expect, it } from 'vitest'
import { MinuteAggregator, SampleRing, SeriesBuilder } from '../../../src/modules/monitoring/history.js'
import type { HostSample } from '../../../src/modules/monitoring/types.js'

const T0 = Date.parse('2025-06-01T12:00:00Z')

function sample(
  timestampMs: number,
  cpu: number,
  memory: number,
  extra: Partial<HostSample> = {},
): HostSample {
  return {
    timestampMs,
    cpu: { percent: cpu, perCore: [cpu], cores: 1 },
    load: { one: cpu / 100, five: 0, fifteen: 0 },
    memory: {
      totalBytes: 1000,
      usedBytes: memory * 10,
      availableBytes: 1000 - memory * 10,
      freeBytes: 0,
      percent: memory,
      swapTotalBytes: 0,
      swapUsedBytes: 0,
      swapPercent: 0,
    },
    disk: null,
    network: { rxBytesPerSec: cpu * 10, txBytesPerSec: memory, interfaces: 1 },
    ...extra,
  }
}

function point(
  cpu: number,
  cpuMax: number,
  memory: number,
  memoryMax: number,
  disk: number | null = null,
  netRx = 0,
  netTx = 0,
) {
  return { cpu, cpuMax, memory, memoryMax, disk, netRx, netRxMax: netRx, netTx, netTxMax: netTx }
}

describe('SeriesBuilder', () => {
  it('averages and maxes per epoch-aligned bucket and leaves out empty buckets', () => {
    const b = new SeriesBuilder(60_000)
    b.add(T0 + 1_000, point(10, 10, 50, 50, 20, 100, 10))
    b.add(T0 + 59_000, point(30, 30, 70, 70, null, 300, 30))
    b.add(T0 + 180_000, point(5, 5, 40, 40, null, 7, 3))
    expect(b.build()).toEqual({
      stepMs: 60_000,
      timestamps: [T0, T0 + 180_000],
      cpu: [20, 5],
      cpuMax: [30, 5],
      memory: [60, 40],
      memoryMax: [70, 40],
      // A bucket's disk averages the samples that read it; none did in the second.
      disk: [20, null],
      netRx: [200, 7],
      netRxMax: [300, 7],
      netTx: [20, 3],
      netTxMax: [30, 3],
    })
  })

  it('weights pre-aggregated points by their sample count', () => {
    const b = new SeriesBuilder(300_000)
    b.add(T0, point(10, 90, 50, 55, 30, 100, 0), 60)
    b.add(T0 + 60_000, point(40, 45, 20, 25, 50, 500, 0), 20)
    const s = b.build()
    expect(s.disk).toEqual([35])
    expect(s.netRx).toEqual([200])
    expect(s.cpu).toEqual([17.5])
    expect(s.cpuMax).toEqual([90])
    expect(s.memory).toEqual([42.5])
    expect(s.memoryMax).toEqual([55])
  })
})

describe('SampleRing', () => {
  it('returns the right number of points for 15m and 1h windows at full and minute resolution', () => {
    const ring = new SampleRing(3616, 3_600_000)
    // Two hours at 1 Hz: only the last hour stays.
    for (let i = 0; i < 7200; i++) ring.push(T0 + i * 1000, i % 100, 50)
    const now = T0 + 7199 * 1000
    expect(ring.size).toBe(3601)
    expect(ring.oldestMs()).toBe(now - 3_600_000)
    expect(ring.query(now - 900_000, now, 1000).timestamps).toHaveLength(901)
    expect(ring.query(now - 3_600_000, now, 1000).timestamps).toHaveLength(3601)
    // T0 is minute-aligned, now = T0 + 7199 s: 15 whole minutes back lands mid-minute, so 16 buckets.
    expect(ring.query(now - 900_000, now, 60_000).timestamps).toHaveLength(16)
    const lastMinute = ring.query(T0 + 7140_000, now, 60_000)
    expect(lastMinute.timestamps).toEqual([T0 + 7140_000])
    // Seconds 7140..7199 carry cpu = i % 100 = 40..99.
    expect(lastMinute.cpu).toEqual([69.5])
    expect(lastMinute.cpuMax).toEqual([99])
  })

  it('keeps disk and network per sample, a disk it could not read as null', () => {
    const ring = new SampleRing(10, 60_000)
    ring.push(T0, 1, 1, 40, 1000, 10)
    ring.push(T0 + 1000, 1, 1, null, 3000, 30)
    const s = ring.query(T0, T0 + 1000, 1000)
    expect(s.disk).toEqual([40, null])
    expect(s.netRx).toEqual([1000, 3000])
    expect(s.netTx).toEqual([10, 30])
    const folded = ring.query(T0, T0 + 1000, 60_000)
    expect(folded.disk).toEqual([40])
    expect(folded.netRx).toEqual([2000])
    expect(folded.netRxMax).toEqual([3000])
  })

  it('answers an empty series for a window outside its data', () => {
    const ring = new SampleRing(10, 60_000)
    expect(ring.query(T0, T0 + 1000, 1000).timestamps).toEqual([])
    ring.push(T0, 1, 1)
    expect(ring.query(T0 + 1, T0 + 1000, 1000).timestamps).toEqual([])
    expect(ring.query(T0 - 1000, T0 - 1, 1000).timestamps).toEqual([])
  })

  it('keeps at most its capacity and ignores samples that go back in time', () => {
    const ring = new SampleRing(5, 3_600_000)
    for (let i = 0; i < 8; i++) ring.push(T0 + i * 1000, i, i)
    ring.push(T0, 99, 99)
    expect(ring.size).toBe(5)
    expect(ring.query(T0, T0 + 10_000, 1000).cpu).toEqual([3, 4, 5, 6, 7])
  })
})

describe('MinuteAggregator', () => {
  it('emits one aggregate when a sample opens the next minute', () => {
    const agg = new MinuteAggregator()
    expect(agg.add(sample(T0 + 0, 10, 40))).toBeNull()
    expect(
      agg.add(
        sample(T0 + 20_000, 20, 50, {
          disk: { path: '/', totalBytes: 1, usedBytes: 1, availableBytes: 0, percent: 12.345 },
        }),
      ),
    ).toBeNull()
    expect(agg.add(sample(T0 + 59_999, 60, 60))).toBeNull()
    const first = agg.add(sample(T0 + 60_000, 99, 99))
    expect(first).toEqual({
      minuteMs: T0,
      sampleCount: 3,
      cpuAvg: 30,
      cpuMax: 60,
      memoryAvg: 50,
      memoryMax: 60,
      memoryUsedBytesAvg: 500,
      memoryTotalBytes: 1000,
      swapPercentAvg: 0,
      load1Avg: 0.3,
      load1Max: 0.6,
      diskPercent: 12.35,
      netRxBytesPerSecAvg: 300,
      netRxBytesPerSecMax: 600,
      netTxBytesPerSecAvg: 50,
      netTxBytesPerSecMax: 60,
    })
    const partial = agg.flush()
    expect(partial).toMatchObject({ minuteMs: T0 + 60_000, sampleCount: 1, cpuAvg: 99, diskPercent: null })
    expect(agg.flush()).toBeNull()
  })

  it('starts a new minute when the clock steps back', () => {
    const agg = new MinuteAggregator()
    agg.add(sample(T0 + 120_000, 10, 10))
    expect(agg.add(sample(T0, 20, 20))).toMatchObject({ minuteMs: T0 + 120_000, sampleCount: 1 })
  })
})
