// Shapes shared by the sampler, the in-memory history and (later) the
// repository and routes. Times are Date / epoch milliseconds inside; ISO-8601
// strings appear only at the HTTP edge.

/** Cumulative CPU time counters of one `cpu` line of /proc/stat, in clock ticks. */
export interface CpuTimes {
  /** busy = user + nice + system + irq + softirq + steal (guest is already inside user). */
  busy: number
  /** idle + iowait: a core waiting for the disk is free for other work, as `top` counts it. */
  idle: number
}

export interface CpuStat {
  total: CpuTimes
  cores: CpuTimes[]
}

export interface MemInfo {
  totalBytes: number
  freeBytes: number
  availableBytes: number
  buffersBytes: number
  cachedBytes: number
  swapTotalBytes: number
  swapFreeBytes: number
}

export interface LoadAverage {
  one: number
  five: number
  fifteen: number
}

export interface NetCounters {
  rxBytes: number
  txBytes: number
  /** Interfaces counted (loopback excluded). */
  interfaces: number
}

export interface DiskUsage {
  path: string
  totalBytes: number
  usedBytes: number
  /** Space an unprivileged process may still use (statfs bavail), as `df` reports it. */
  availableBytes: number
  /** used / (used + available), the figure `df` prints in Use%. */
  percent: number
}

/** One reading of the host, as the sampler produces it once per interval. */
export interface HostSample {
  /** Epoch milliseconds from the sampler's clock. */
  timestampMs: number
  cpu: {
    /** Busy share of all cores since the previous sample, 0-100 (the `%Cpu(s)` figure of `top`, 100 - id - wa). */
    percent: number
    perCore: number[]
    cores: number
  }
  load: LoadAverage
  memory: {
    totalBytes: number
    /** total - available: what `free` (procps 4) reports as used. */
    usedBytes: number
    availableBytes: number
    freeBytes: number
    percent: number
    swapTotalBytes: number
    swapUsedBytes: number
    swapPercent: number
  }
  /** Filesystem holding the data directory; null when statfs failed (path missing). */
  disk: DiskUsage | null
  /**
   * The mount points asked for (HostSampler.measureMounts: those alert rules name) that are
   * mounted now, each with its usage (`path` the mount point); absent when none was asked for.
   */
  mounts?: DiskUsage[]
  network: {
    rxBytesPerSec: number
    txBytesPerSec: number
    interfaces: number
  }
}

/**
 * One minute of samples folded into averages and maxima, handed to the
 * persistence callback (a row of `system_metrics_history`).
 */
export interface MinuteAggregate {
  /** Start of the minute, epoch milliseconds (a multiple of 60,000). */
  minuteMs: number
  sampleCount: number
  cpuAvg: number
  cpuMax: number
  memoryAvg: number
  memoryMax: number
  memoryUsedBytesAvg: number
  memoryTotalBytes: number
  swapPercentAvg: number
  load1Avg: number
  load1Max: number
  /** Last disk percent of the minute, null when no sample had a disk reading. */
  diskPercent: number | null
  netRxBytesPerSecAvg: number
  netRxBytesPerSecMax: number
  netTxBytesPerSecAvg: number
  netTxBytesPerSecMax: number
}

/** A chart-ready series: parallel arrays, one entry per bucket that held data. */
export interface HistorySeries {
  stepMs: number
  timestamps: number[]
  cpu: number[]
  cpuMax: number[]
  memory: number[]
  memoryMax: number[]
  /** % used of the watched filesystem per bucket; null where no sample could read it. */
  disk: (number | null)[]
  netRx: number[]
  netRxMax: number[]
  netTx: number[]
  netTxMax: number[]
}

/** One sample, or one stored minute, as a chart bucket folds it. */
export interface HistoryPoint {
  cpu: number
  cpuMax: number
  memory: number
  memoryMax: number
  disk: number | null
  netRx: number
  netRxMax: number
  netTx: number
  netTxMax: number
}

/** Time source and the one timer the sampler uses; tests pass a controlled one. */
export interface Clock {
  now(): number
  setTimeout(callback: () => void, delayMs: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => {
    const handle = setTimeout(callback, delayMs)
    // The sampler must never be what keeps the process alive.
    handle.unref()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}
