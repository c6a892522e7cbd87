// The monitoring area's rules: run the sampler, persist its minutes, prune
// past the retention, and answer "now" and "over time" from memory or the
// table, whichever holds the asked range.

import { MetricsUnavailableError } from './errors.js'
import { MINUTE_MS, SeriesBuilder } from './history.js'
import type { MonitoringRepository } from './repository.js'
import type { HostSampler } from './sampler.js'
import type { HistorySeries, HostSample } from './types.js'
import { type HistoryQuery, resolveHistoryRange } from './window.js'

export type HistorySource = 'memory' | 'database' | 'mixed'

export interface HistoryResult extends HistorySeries {
  fromMs: number
  toMs: number
  source: HistorySource
}

export interface MonitoringServiceOptions {
  sampler: HostSampler
  repository: MonitoringRepository
  /** Stored minutes older than this are deleted; default 7. */
  retentionDays?: number
  /** How often to prune; default hourly. */
  pruneIntervalMs?: number
  now?: () => number
  onError?: (error: Error, what: string) => void
}

export class MonitoringService {
  readonly sampler: HostSampler
  readonly repository: MonitoringRepository
  readonly retentionDays: number
  private readonly pruneIntervalMs: number
  private readonly now: () => number
  private readonly onError: (error: Error, what: string) => void
  private pruneTimer: NodeJS.Timeout | null = null

  constructor(options: MonitoringServiceOptions) {
    this.sampler = options.sampler
    this.repository = options.repository
    this.retentionDays = options.retentionDays ?? 7
    this.pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000
    this.now = options.now ?? (() => Date.now())
    this.onError = options.onError ?? (() => {})
  }

  /** Starts sampling and the retention pruning (once now, then every pruneIntervalMs). */
  start(): void {
    this.sampler.start()
    if (this.pruneTimer) return
    const prune = () => {
      this.prune().catch((error: Error) => this.onError(error, 'pruning metrics history'))
    }
    prune()
    this.pruneTimer = setInterval(prune, this.pruneIntervalMs)
    this.pruneTimer.unref()
  }

  /** Idempotent; the sampler hands over its partial minute before this resolves. */
  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer)
    this.pruneTimer = null
    await this.sampler.stop()
  }

  /** Deletes stored minutes older than the retention; returns how many. */
  prune(nowMs = this.now()): Promise<number> {
    return this.repository.pruneBefore(nowMs - this.retentionDays * 86_400_000)
  }

  /**
   * The latest sample. Right after start-up there is none until the first
   * interval has passed: wait for it rather than answer without data.
   */
  async current(waitMs = Math.max(2000, this.sampler.intervalMs * 2)): Promise<HostSample> {
    const latest = this.sampler.current()
    if (latest) return latest
    if (!this.sampler.isRunning) throw new MetricsUnavailableError('the host sampler is not running')
    return new Promise<HostSample>((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(new MetricsUnavailableError(`no host sample within ${waitMs} ms`))
      }, waitMs)
      const off = this.sampler.onSample((sample) => {
        clearTimeout(timer)
        off()
        resolve(sample)
      })
    })
  }

  /** Parses the query (400 on bad values) and answers the history, or null when none was asked. */
  async history(query: HistoryQuery): Promise<HistoryResult | null> {
    const range = resolveHistoryRange(query, this.now(), this.sampler.intervalMs)
    if (!range) return null
    const { fromMs, toMs } = range
    const memoryStartMs = this.sampler.historyStartMs()
    if (memoryStartMs !== null && fromMs >= memoryStartMs) {
      return { ...this.sampler.history(fromMs, toMs, range.stepMs), fromMs, toMs, source: 'memory' }
    }
    // Older than memory: stored minutes up to the first whole minute memory
    // holds, samples from there on, so no minute is counted twice.
    const boundaryMs =
      memoryStartMs === null ? toMs + 1 : Math.min(toMs + 1, Math.ceil(memoryStartMs / MINUTE_MS) * MINUTE_MS)
    const minutes = await this.repository.listMinutes(fromMs, boundaryMs)
    // Nothing stored for the older part (a fresh install): memory alone, at the asked step.
    if (minutes.length === 0) {
      return { ...this.sampler.history(fromMs, toMs, range.stepMs), fromMs, toMs, source: 'memory' }
    }
    // Stored rows are minutes: a finer step cannot be honoured.
    const builder = new SeriesBuilder(Math.max(range.stepMs, MINUTE_MS))
    for (const m of minutes) {
      // A stored minute keeps the network's average only: its peak is that average.
      const netRx = m.netRxBytesPerSec ?? 0
      const netTx = m.netTxBytesPerSec ?? 0
      const point = {
        cpu: m.cpuAvg,
        cpuMax: m.cpuMax,
        memory: m.memoryAvg,
        memoryMax: m.memoryMax,
        disk: m.diskPercent,
        netRx,
        netRxMax: netRx,
        netTx,
        netTxMax: netTx,
      }
      builder.add(m.minuteMs, point, m.sampleCount)
    }
    const fromMemory = boundaryMs <= toMs ? this.sampler.addHistoryTo(builder, boundaryMs, toMs) : 0
    const source: HistorySource = fromMemory === 0 ? 'database' : 'mixed'
    return { ...builder.build(), fromMs, toMs, source }
  }
}
