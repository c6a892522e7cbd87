// In-memory history of host samples and the folding of samples into
// one-minute aggregates and chart buckets. Pure logic: no timers, no I/O.

import type { HistoryPoint, HistorySeries, HostSample, MinuteAggregate } from './types.js'

export const MINUTE_MS = 60_000

const round2 = (n: number) => Math.round(n * 100) / 100

/**
 * Folds ascending points into buckets aligned to multiples of `stepMs` since
 * the epoch, so the same window asked twice gives the same buckets and a
 * one-minute step lines up with the persisted minute rows. Buckets without
 * data are left out (the arrays stay parallel).
 */
export class SeriesBuilder {
  private readonly out: HistorySeries
  private bucketMs = Number.NaN
  private weight = 0
  private sum = emptySums()
  private diskWeight = 0

  constructor(readonly stepMs: number) {
    this.out = {
      stepMs,
      timestamps: [],
      cpu: [],
      cpuMax: [],
      memory: [],
      memoryMax: [],
      disk: [],
      netRx: [],
      netRxMax: [],
      netTx: [],
      netTxMax: [],
    }
  }

  /** Adds one sample (weight 1) or a pre-aggregated point (weight = its sample count). */
  add(timestampMs: number, point: HistoryPoint, weight = 1): void {
    const bucketMs = Math.floor(timestampMs / this.stepMs) * this.stepMs
    if (bucketMs !== this.bucketMs) {
      this.close()
      this.bucketMs = bucketMs
    }
    const s = this.sum
    this.weight += weight
    s.cpu += point.cpu * weight
    s.memory += point.memory * weight
    s.netRx += point.netRx * weight
    s.netTx += point.netTx * weight
    if (point.disk !== null) {
      s.disk += point.disk * weight
      this.diskWeight += weight
    }
    if (point.cpuMax > s.cpuMax) s.cpuMax = point.cpuMax
    if (point.memoryMax > s.memoryMax) s.memoryMax = point.memoryMax
    if (point.netRxMax > s.netRxMax) s.netRxMax = point.netRxMax
    if (point.netTxMax > s.netTxMax) s.netTxMax = point.netTxMax
  }

  build(): HistorySeries {
    this.close()
    return this.out
  }

  private close(): void {
    if (this.weight > 0) {
      const { out, sum: s, weight } = this
      out.timestamps.push(this.bucketMs)
      out.cpu.push(round2(s.cpu / weight))
      out.cpuMax.push(round2(s.cpuMax))
      out.memory.push(round2(s.memory / weight))
      out.memoryMax.push(round2(s.memoryMax))
      out.disk.push(this.diskWeight > 0 ? round2(s.disk / this.diskWeight) : null)
      out.netRx.push(Math.round(s.netRx / weight))
      out.netRxMax.push(Math.round(s.netRxMax))
      out.netTx.push(Math.round(s.netTx / weight))
      out.netTxMax.push(Math.round(s.netTxMax))
    }
    this.weight = 0
    this.diskWeight = 0
    this.sum = emptySums()
  }
}

function emptySums() {
  return { cpu: 0, cpuMax: 0, memory: 0, memoryMax: 0, disk: 0, netRx: 0, netRxMax: 0, netTx: 0, netTxMax: 0 }
}

/**
 * The last `retentionMs` of samples at full resolution. Only the charted
 * figures are kept, in typed arrays, so an hour at 1 Hz is ~170 KB and
 * produces no garbage per sample. A disk that could not be read is NaN here.
 */
export class SampleRing {
  private readonly timestamps: Float64Array
  private readonly cpu: Float64Array
  private readonly memory: Float64Array
  private readonly disk: Float64Array
  private readonly netRx: Float64Array
  private readonly netTx: Float64Array
  private start = 0
  private count = 0

  constructor(
    readonly capacity: number,
    readonly retentionMs: number,
  ) {
    this.timestamps = new Float64Array(capacity)
    this.cpu = new Float64Array(capacity)
    this.memory = new Float64Array(capacity)
    this.disk = new Float64Array(capacity)
    this.netRx = new Float64Array(capacity)
    this.netTx = new Float64Array(capacity)
  }

  get size(): number {
    return this.count
  }

  /** Appends a sample; timestamps must not go backwards (older ones are dropped). */
  push(
    timestampMs: number,
    cpu: number,
    memory: number,
    disk: number | null = null,
    netRx = 0,
    netTx = 0,
  ): void {
    if (this.count > 0 && timestampMs < this.at(this.count - 1)) return
    const index = (this.start + this.count) % this.capacity
    this.timestamps[index] = timestampMs
    this.cpu[index] = cpu
    this.memory[index] = memory
    this.disk[index] = disk ?? Number.NaN
    this.netRx[index] = netRx
    this.netTx[index] = netTx
    if (this.count < this.capacity) this.count++
    else this.start = (this.start + 1) % this.capacity
    this.evictBefore(timestampMs - this.retentionMs)
  }

  /** Timestamp of the oldest kept sample, or null when empty. */
  oldestMs(): number | null {
    return this.count > 0 ? this.at(0) : null
  }

  /** Samples with fromMs <= timestamp <= toMs, folded into `stepMs` buckets. */
  query(fromMs: number, toMs: number, stepMs: number): HistorySeries {
    const builder = new SeriesBuilder(stepMs)
    this.addTo(builder, fromMs, toMs)
    return builder.build()
  }

  /** Feeds the samples with fromMs <= timestamp <= toMs into a builder; returns how many. */
  addTo(builder: SeriesBuilder, fromMs: number, toMs: number): number {
    let n = 0
    for (let i = this.firstIndexAtOrAfter(fromMs); i < this.count; i++) {
      // Indexes below are always inside the ring (modulo its capacity).
      const index = (this.start + i) % this.capacity
      const t = this.timestamps[index]!
      if (t > toMs) break
      const cpu = this.cpu[index]!
      const memory = this.memory[index]!
      const disk = this.disk[index]!
      const netRx = this.netRx[index]!
      const netTx = this.netTx[index]!
      builder.add(t, {
        cpu,
        cpuMax: cpu,
        memory,
        memoryMax: memory,
        disk: Number.isNaN(disk) ? null : disk,
        netRx,
        netRxMax: netRx,
        netTx,
        netTxMax: netTx,
      })
      n++
    }
    return n
  }

  clear(): void {
    this.start = 0
    this.count = 0
  }

  private at(i: number): number {
    return this.timestamps[(this.start + i) % this.capacity]!
  }

  private evictBefore(cutoffMs: number): void {
    while (this.count > 0 && this.at(0) < cutoffMs) {
      this.start = (this.start + 1) % this.capacity
      this.count--
    }
  }

  private firstIndexAtOrAfter(t: number): number {
    let lo = 0
    let hi = this.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.at(mid) < t) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** Folds samples into one aggregate per wall-clock minute. */
export class MinuteAggregator {
  private current: {
    minuteMs: number
    n: number
    cpuSum: number
    cpuMax: number
    memSum: number
    memMax: number
    memUsedSum: number
    memTotal: number
    swapSum: number
    load1Sum: number
    load1Max: number
    disk: number | null
    rxSum: number
    rxMax: number
    txSum: number
    txMax: number
  } | null = null

  /** Adds a sample; returns the finished aggregate when the sample opens a new minute. */
  add(sample: HostSample): MinuteAggregate | null {
    const minuteMs = Math.floor(sample.timestampMs / MINUTE_MS) * MINUTE_MS
    const finished = this.current && this.current.minuteMs !== minuteMs ? this.flush() : null
    let c = this.current
    if (!c) {
      c = {
        minuteMs,
        n: 0,
        cpuSum: 0,
        cpuMax: 0,
        memSum: 0,
        memMax: 0,
        memUsedSum: 0,
        memTotal: 0,
        swapSum: 0,
        load1Sum: 0,
        load1Max: 0,
        disk: null,
        rxSum: 0,
        rxMax: 0,
        txSum: 0,
        txMax: 0,
      }
      this.current = c
    }
    const { cpu, memory, load, network, disk } = sample
    c.n++
    c.cpuSum += cpu.percent
    c.cpuMax = Math.max(c.cpuMax, cpu.percent)
    c.memSum += memory.percent
    c.memMax = Math.max(c.memMax, memory.percent)
    c.memUsedSum += memory.usedBytes
    c.memTotal = memory.totalBytes
    c.swapSum += memory.swapPercent
    c.load1Sum += load.one
    c.load1Max = Math.max(c.load1Max, load.one)
    if (disk) c.disk = disk.percent
    c.rxSum += network.rxBytesPerSec
    c.rxMax = Math.max(c.rxMax, network.rxBytesPerSec)
    c.txSum += network.txBytesPerSec
    c.txMax = Math.max(c.txMax, network.txBytesPerSec)
    return finished
  }

  /** Ends the current (possibly partial) minute; null when nothing was added. */
  flush(): MinuteAggregate | null {
    const c = this.current
    if (!c) return null
    this.current = null
    return {
      minuteMs: c.minuteMs,
      sampleCount: c.n,
      cpuAvg: round2(c.cpuSum / c.n),
      cpuMax: round2(c.cpuMax),
      memoryAvg: round2(c.memSum / c.n),
      memoryMax: round2(c.memMax),
      memoryUsedBytesAvg: Math.round(c.memUsedSum / c.n),
      memoryTotalBytes: c.memTotal,
      swapPercentAvg: round2(c.swapSum / c.n),
      load1Avg: round2(c.load1Sum / c.n),
      load1Max: round2(c.load1Max),
      diskPercent: c.disk === null ? null : round2(c.disk),
      netRxBytesPerSecAvg: Math.round(c.rxSum / c.n),
      netRxBytesPerSecMax: Math.round(c.rxMax),
      netTxBytesPerSecAvg: Math.round(c.txSum / c.n),
      netTxBytesPerSecMax: Math.round(c.txMax),
    }
  }
}
