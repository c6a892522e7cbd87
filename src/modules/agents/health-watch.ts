// Watching running agents: the http check of each, heartbeat lines scored
// against their timeout, and one sampler for CPU and memory of every process
// tree. It measures and reports through callbacks; what to do about a result
// (emit health, restart over the memory limit) is the supervisor's.

import type { AgentEntry } from './agent-entry.js'
import { heartbeatResult, httpCheck } from './checks.js'
import type { AgentRuntime, RuntimeProcess } from './runtimes/types.js'

export interface HealthWatchDeps {
  runtime: AgentRuntime
  sampleIntervalMs: number
  /** Every agent the supervisor knows. */
  entries: () => Iterable<AgentEntry>
  /** True once the supervisor shuts down: no sampler starts again. */
  closed: () => boolean
  /** A measurement changed the agent's check or usage. */
  onHealth: (entry: AgentEntry) => void
  /** The process tree uses more memory than the agent's maxMemoryMb. */
  onOverMemory: (entry: AgentEntry, memoryBytes: number) => void
}

export class HealthWatch {
  private sampler: NodeJS.Timeout | null = null

  constructor(private readonly deps: HealthWatchDeps) {}

  /** Re-scores a heartbeat check from the last beat (on each beat and each sample). */
  refreshHeartbeat(entry: AgentEntry): void {
    const hc = entry.config.healthCheck
    if (hc?.type !== 'heartbeat' || !entry.startedAt) return
    entry.check = heartbeatResult(entry.lastBeatAt, entry.startedAt.getTime(), Date.now(), hc.timeoutMs)
    this.deps.onHealth(entry)
  }

  /** Starts the http check of a process just spawned (a heartbeat check needs no timer). */
  startChecks(entry: AgentEntry, proc: RuntimeProcess): void {
    const hc = entry.config.healthCheck
    if (hc?.type !== 'http') return
    const abort = new AbortController()
    entry.checkAbort = abort
    entry.checkTimer = setInterval(() => {
      if (entry.checkInFlight || entry.proc !== proc) return
      entry.checkInFlight = true
      httpCheck(hc.url, hc.timeoutMs, abort.signal).then((result) => {
        entry.checkInFlight = false
        if (entry.proc !== proc || entry.status !== 'running') return
        entry.check = result
        this.deps.onHealth(entry)
      })
    }, hc.intervalMs)
  }

  stopChecks(entry: AgentEntry): void {
    if (entry.checkTimer) clearInterval(entry.checkTimer)
    entry.checkTimer = null
    entry.checkAbort?.abort()
    entry.checkAbort = null
  }

  /** Samples usage while any agent runs; one timer for all of them. */
  ensureSampler(): void {
    if (this.sampler || this.deps.closed()) return
    this.sampler = setInterval(() => this.sample(), this.deps.sampleIntervalMs)
  }

  stopSamplerIfIdle(): void {
    if (!this.sampler) return
    for (const e of this.deps.entries()) if (e.proc && !this.deps.closed()) return
    clearInterval(this.sampler)
    this.sampler = null
  }

  private sample(): void {
    const live = [...this.deps.entries()].filter((e) => e.proc && e.status === 'running')
    if (live.length === 0) {
      this.stopSamplerIfIdle()
      return
    }
    const usage = this.deps.runtime.usage(live.map((e) => e.proc!))
    const now = Date.now()
    for (const entry of live) {
      const u = usage.get(entry.proc!)
      if (u) {
        const prev = entry.prevCpu ?? { ms: 0, at: entry.startedAt!.getTime() }
        const elapsed = now - prev.at
        if (elapsed > 0) entry.cpuPercent = Math.max(0, ((u.cpuTimeMs - prev.ms) / elapsed) * 100)
        entry.prevCpu = { ms: u.cpuTimeMs, at: now }
        entry.memoryBytes = u.memoryBytes
        entry.processCount = u.processCount
        const limit = entry.config.maxMemoryMb
        if (limit !== null && u.memoryBytes > limit * 1024 * 1024)
          this.deps.onOverMemory(entry, u.memoryBytes)
      }
      if (entry.config.healthCheck?.type === 'heartbeat') this.refreshHeartbeat(entry)
      else this.deps.onHealth(entry)
    }
  }
}
