// The host sampler: one timer, one read of /proc per interval, CPU and
// network figures from counter deltas between consecutive reads.

import { ValidationError } from '../../errors.js'
import { MinuteAggregator, SampleRing, type SeriesBuilder } from './history.js'
import { parseMountPoints } from './mounts.js'
import { ProcReader, parseLoadavg, parseMeminfo, parseNetDev, parseProcStat, readDiskUsage } from './proc.js'
import {
  type Clock,
  type CpuStat,
  type CpuTimes,
  type DiskUsage,
  type HistorySeries,
  type HostSample,
  type MinuteAggregate,
  type NetCounters,
  systemClock,
} from './types.js'

export interface HostSamplerOptions {
  /** Time between samples; default 1000, allowed 100..3,600,000. */
  intervalMs?: number
  /** How much full-resolution history to keep in memory; default one hour. */
  historyMs?: number
  /** Where the /proc files are; tests point this at recorded files. */
  procRoot?: string
  /** A path on the filesystem whose use to report (the data directory); null skips disk. */
  diskPath?: string | null
  clock?: Clock
  /** Receives each finished minute; a returned promise is awaited by stop(). */
  onAggregate?: (aggregate: MinuteAggregate) => void | Promise<void>
  /** Read failures and persistence failures; the sampler keeps running. */
  onError?: (error: Error) => void
}

interface Counters {
  timestampMs: number
  cpu: CpuStat
  net: NetCounters
}

const round2 = (n: number) => Math.round(n * 100) / 100

function busyPercent(previous: CpuTimes, current: CpuTimes): number {
  const busy = current.busy - previous.busy
  const total = busy + (current.idle - previous.idle)
  // No ticks elapsed (two reads within one jiffy) or counters went backwards
  // (CPU hot-unplug): report idle rather than a nonsense figure.
  if (total <= 0 || busy < 0) return 0
  return round2(Math.min(100, (busy / total) * 100))
}

function ratePerSec(previous: number, current: number, elapsedMs: number): number {
  // A negative delta means a counter reset (interface removed, driver reload).
  if (elapsedMs <= 0 || current < previous) return 0
  return Math.round(((current - previous) * 1000) / elapsedMs)
}

export class HostSampler {
  readonly intervalMs: number
  readonly historyMs: number
  private readonly procRoot: string
  private readonly diskPath: string | null
  private readonly clock: Clock
  private readonly onAggregate?: HostSamplerOptions['onAggregate']
  private readonly onError: (error: Error) => void
  private readonly ring: SampleRing
  private readonly aggregator = new MinuteAggregator()
  private readonly listeners = new Set<(sample: HostSample) => void>()
  private readonly persisting = new Set<Promise<void>>()
  private reader: ProcReader
  private previous: Counters | null = null
  private latest: HostSample | null = null
  private timer: unknown = null
  private running = false
  private startedAtMs = 0
  private inFlight: Promise<HostSample | null> | null = null
  private mountsWanted: () => Iterable<string> = () => []

  constructor(options: HostSamplerOptions = {}) {
    const intervalMs = options.intervalMs ?? 1000
    if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > 3_600_000) {
      throw new ValidationError(`intervalMs must be an integer from 100 to 3600000, got ${intervalMs}`, [
        { path: 'intervalMs', message: 'must be an integer from 100 to 3600000' },
      ])
    }
    const historyMs = options.historyMs ?? 3_600_000
    if (!Number.isInteger(historyMs) || historyMs < intervalMs) {
      throw new ValidationError(`historyMs must be an integer >= intervalMs, got ${historyMs}`, [
        { path: 'historyMs', message: 'must be an integer >= intervalMs' },
      ])
    }
    this.intervalMs = intervalMs
    this.historyMs = historyMs
    this.procRoot = options.procRoot ?? '/proc'
    this.diskPath = options.diskPath === undefined ? process.cwd() : options.diskPath
    this.clock = options.clock ?? systemClock
    this.onAggregate = options.onAggregate
    this.onError = options.onError ?? (() => {})
    // A little headroom over historyMs / intervalMs: the time check evicts, the
    // capacity only bounds memory should the clock misbehave.
    this.ring = new SampleRing(Math.ceil(historyMs / intervalMs) + 16, historyMs)
    this.reader = new ProcReader(this.procRoot)
  }

  get isRunning(): boolean {
    return this.running
  }

  /** Starts the timer: a baseline read now, the first sample one interval later. */
  start(): void {
    if (this.running) return
    this.running = true
    this.reader = new ProcReader(this.procRoot)
    this.previous = null
    this.startedAtMs = this.clock.now()
    this.runTick()
  }

  /**
   * Stops the timer, waits for the read in flight, hands the partial minute
   * to onAggregate and waits for it, closes the /proc handles. Idempotent.
   */
  async stop(): Promise<void> {
    this.running = false
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    await this.inFlight?.catch(() => null)
    const partial = this.aggregator.flush()
    if (partial) this.persist(partial)
    await this.reader.close()
    await Promise.all(this.persisting)
  }

  /** The latest sample, or null before the first one. */
  current(): HostSample | null {
    return this.latest
  }

  /** Subscribes to every new sample; returns the unsubscribe function. */
  onSample(listener: (sample: HostSample) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Oldest timestamp the in-memory history holds, or null when it is empty. */
  historyStartMs(): number | null {
    return this.ring.oldestMs()
  }

  /** In-memory samples in [fromMs, toMs] folded into `stepMs` buckets. */
  history(fromMs: number, toMs: number, stepMs: number): HistorySeries {
    return this.ring.query(fromMs, toMs, stepMs)
  }

  /** Feeds in-memory samples in [fromMs, toMs] into a builder (to merge with stored minutes). */
  addHistoryTo(builder: SeriesBuilder, fromMs: number, toMs: number): number {
    return this.ring.addTo(builder, fromMs, toMs)
  }

  /**
   * Reads the host once. The first read only sets the baseline for the
   * deltas and returns null; each later read returns (and records) a sample.
   * The timer calls this; tests with a controlled clock call it directly.
   */
  sampleNow(): Promise<HostSample | null> {
    // Reads share one buffer per file: a second call waits for the first.
    const previous = this.inFlight?.catch(() => null) ?? Promise.resolve(null)
    const run: Promise<HostSample | null> = previous
      .then(() => this.read())
      .finally(() => {
        if (this.inFlight === run) this.inFlight = null
      })
    this.inFlight = run
    return run
  }

  private runTick(): void {
    this.sampleNow()
      .catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        if (!this.running) return
        // Keep the cadence anchored to the start time so slow reads do not drift it.
        const elapsed = this.clock.now() - this.startedAtMs
        const delay = this.intervalMs - (elapsed % this.intervalMs)
        this.timer = this.clock.setTimeout(() => {
          this.timer = null
          if (this.running) this.runTick()
        }, delay)
      })
  }

  private async read(): Promise<HostSample | null> {
    const [statText, memText, loadText, netText, disk, mounts] = await Promise.all([
      this.reader.read('stat'),
      this.reader.read('meminfo'),
      this.reader.read('loadavg'),
      this.reader.read('net/dev'),
      this.readDisk(),
      this.readMounts(),
    ])
    const timestampMs = this.clock.now()
    const counters: Counters = { timestampMs, cpu: parseProcStat(statText), net: parseNetDev(netText) }
    const previous = this.previous
    this.previous = counters
    if (!previous) return null

    const mem = parseMeminfo(memText)
    const usedBytes = mem.totalBytes - mem.availableBytes
    const swapUsedBytes = mem.swapTotalBytes - mem.swapFreeBytes
    const elapsedMs = timestampMs - previous.timestampMs
    const sample: HostSample = {
      timestampMs,
      cpu: {
        percent: busyPercent(previous.cpu.total, counters.cpu.total),
        perCore: counters.cpu.cores.map((core, i) => {
          const before = previous.cpu.cores[i]
          return before ? busyPercent(before, core) : 0
        }),
        cores: counters.cpu.cores.length,
      },
      load: parseLoadavg(loadText),
      memory: {
        totalBytes: mem.totalBytes,
        usedBytes,
        availableBytes: mem.availableBytes,
        freeBytes: mem.freeBytes,
        percent: mem.totalBytes > 0 ? round2((usedBytes / mem.totalBytes) * 100) : 0,
        swapTotalBytes: mem.swapTotalBytes,
        swapUsedBytes,
        swapPercent: mem.swapTotalBytes > 0 ? round2((swapUsedBytes / mem.swapTotalBytes) * 100) : 0,
      },
      disk,
      ...(mounts ? { mounts } : {}),
      network: {
        rxBytesPerSec: ratePerSec(previous.net.rxBytes, counters.net.rxBytes, elapsedMs),
        txBytesPerSec: ratePerSec(previous.net.txBytes, counters.net.txBytes, elapsedMs),
        interfaces: counters.net.interfaces,
      },
    }
    this.record(sample)
    return sample
  }

  /**
   * From the next sample on, also measures these mount points (asked again at each sample, so
   * the set may change): those mounted are in `sample.mounts`, the others are left out.
   */
  measureMounts(wanted: () => Iterable<string>): void {
    this.mountsWanted = wanted
  }

  /** Usage of the wanted mount points mounted now; null when none is wanted (nothing read). */
  private async readMounts(): Promise<DiskUsage[] | null> {
    const wanted = [...this.mountsWanted()]
    if (wanted.length === 0) return null
    let mounted: Set<string>
    try {
      mounted = new Set(parseMountPoints(await this.reader.read('self/mounts')))
    } catch {
      return []
    }
    const usage = await Promise.all(
      wanted.filter((m) => mounted.has(m)).map((m) => readDiskUsage(m).catch(() => null)),
    )
    return usage.filter((u): u is DiskUsage => u !== null)
  }

  private async readDisk(): Promise<DiskUsage | null> {
    if (this.diskPath === null) return null
    try {
      return await readDiskUsage(this.diskPath)
    } catch {
      // The data directory may not exist yet; the other figures still count.
      return null
    }
  }

  private record(sample: HostSample): void {
    this.latest = sample
    this.ring.push(
      sample.timestampMs,
      sample.cpu.percent,
      sample.memory.percent,
      sample.disk?.percent ?? null,
      sample.network.rxBytesPerSec,
      sample.network.txBytesPerSec,
    )
    const finished = this.aggregator.add(sample)
    if (finished) this.persist(finished)
    for (const listener of this.listeners) {
      try {
        listener(sample)
      } catch (error) {
        this.onError(error instanceof Error ? error : new Error(String(error)))
      }
    }
  }

  private persist(aggregate: MinuteAggregate): void {
    if (!this.onAggregate) return
    const done = Promise.resolve()
      .then(() => this.onAggregate?.(aggregate))
      .catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))))
      .finally(() => this.persisting.delete(done))
    this.persisting.add(done)
  }
}
