// The supervisor runs agents as processes and keeps them to their restart policy.
// It knows nothing about the database or HTTP: the service feeds it configurations
// and persists what it reports through onEvent().
//
// Each agent has an operation chain: start, stop, restart and crash handling run one
// after another, so a stop that arrives while a crash is being handled cannot race
// it into a second process.

import { resolve } from 'node:path'
import { type BackoffOptions, DEFAULT_BACKOFF, restartDelayMs } from '../../backoff.js'
import { UnavailableError, ValidationError } from '../../errors.js'
import {
  AgentEntry,
  type AgentFacts,
  type AgentStatus,
  assertAgentId,
  describeExit,
  type EntryOptions,
  entryFacts,
  healthKey,
  idleFacts,
  type SupervisorEvent,
  setStatusQuiet,
} from './agent-entry.js'
import { isHeartbeatLine } from './checks.js'
import { normalizeAgentConfig, type SupervisedConfig, validateAgentConfig } from './config.js'
import { buildAgentEnv, safeBaseEnv } from './env.js'
import { AgentNoCommandError, AgentSpawnError } from './errors.js'
import { HealthWatch } from './health-watch.js'
import { type LogEntry, LogRing } from './log-buffer.js'
import { DEFAULT_LOG_FILE_OPTIONS, type LogFileOptions, RotatingLogFile, removeLogFiles } from './log-file.js'
import { ProcessRuntime } from './runtimes/process.js'
import type { AgentRuntime, ExitInfo, OutputStream, RuntimeProcess } from './runtimes/types.js'

export interface SupervisorOptions {
  /** Directory for the per-agent log files. */
  logDir: string
  runtime?: AgentRuntime
  /** A relative `cwd` is resolved against this (default: the server's cwd). */
  baseDir?: string
  /** The safe base environment (default: PATH, HOME, LANG, TZ of the server). */
  baseEnv?: Record<string, string>
  /** How often liveness, CPU, memory and heartbeats are sampled (default 2000). */
  sampleIntervalMs?: number
  /** Lines kept in memory per agent (default 1000). */
  logBufferLines?: number
  /** Log file rotation, or false for no files. */
  logFile?: Partial<LogFileOptions> | false
  backoff?: Partial<BackoffOptions>
  random?: () => number
}

export class Supervisor {
  private readonly entries = new Map<string, AgentEntry>()
  private readonly listeners = new Set<(event: SupervisorEvent) => void>()
  private readonly runtime: AgentRuntime
  private readonly baseEnv: Record<string, string>
  private readonly backoff: BackoffOptions
  private readonly random: () => number
  private readonly watch: HealthWatch
  private closed = false

  constructor(private readonly options: SupervisorOptions) {
    this.runtime = options.runtime ?? new ProcessRuntime()
    this.baseEnv = options.baseEnv ?? safeBaseEnv()
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff }
    this.random = options.random ?? Math.random
    this.watch = new HealthWatch({
      runtime: this.runtime,
      sampleIntervalMs: options.sampleIntervalMs ?? 2000,
      entries: () => this.entries.values(),
      closed: () => this.closed,
      onHealth: (entry) => this.updateHealth(entry),
      onOverMemory: (entry, bytes) => this.restartForMemory(entry, bytes),
    })
  }

  /** Subscribe to status, health, log and exit events; returns the unsubscribe function. */
  onEvent(listener: (event: SupervisorEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Starts the agent with `configuration` (validated here). Idempotent: an agent that
   * is already running keeps its process (the new configuration applies from its next
   * start). Rejects with ValidationError, AgentNoCommandError or AgentSpawnError.
   */
  async start(agentId: string, configuration: unknown, options: EntryOptions = {}): Promise<AgentFacts> {
    const config = this.parse(agentId, configuration)
    if (!config.argv) throw new AgentNoCommandError(agentId)
    const entry = this.entry(agentId, config, options)
    return this.enqueue(entry, async () => {
      entry.config = config
      if (entry.proc) return entryFacts(entry)
      this.clearRestartTimer(entry)
      entry.window.clear()
      entry.consecutive = 0
      await this.spawn(entry)
      return entryFacts(entry)
    })
  }

  /** SIGTERM to the group, SIGKILL after stopTimeoutMs. Idempotent; unknown ids answer `stopped`. */
  async stop(agentId: string, options: { maxTimeoutMs?: number } = {}): Promise<AgentFacts> {
    const entry = this.entries.get(agentId)
    if (!entry) return idleFacts(agentId)
    return this.enqueue(entry, async () => {
      this.clearRestartTimer(entry)
      let reason: string | null = null
      if (entry.proc) {
        setStatusQuiet(entry, 'stopping', null)
        this.emitStatus(entry)
        const timeoutMs = Math.min(
          entry.config.stopTimeoutMs,
          options.maxTimeoutMs ?? Number.POSITIVE_INFINITY,
        )
        const result = await this.endProcess(entry, timeoutMs)
        if (result.killed) {
          reason = `did not exit within ${timeoutMs} ms of SIGTERM; killed with SIGKILL`
        }
      }
      this.setStatus(entry, 'stopped', reason)
      return entryFacts(entry)
    })
  }

  /**
   * Stops the agent if it runs, then starts a new process. `configuration`, when
   * given, replaces the stored one. An agent this supervisor has never seen needs it.
   */
  async restart(agentId: string, configuration?: unknown, options: EntryOptions = {}): Promise<AgentFacts> {
    const known = this.entries.get(agentId)
    if (!known && configuration === undefined) {
      throw new ValidationError(`agent ${agentId} has never been started here: a configuration is required`)
    }
    const config = configuration === undefined ? known!.config : this.parse(agentId, configuration)
    if (!config.argv) throw new AgentNoCommandError(agentId)
    const entry = this.entry(agentId, config, options)
    return this.enqueue(entry, async () => {
      entry.config = config
      this.clearRestartTimer(entry)
      const wasRunning = entry.proc !== null
      if (entry.proc) {
        setStatusQuiet(entry, 'restarting', 'restart requested')
        this.emitStatus(entry)
        await this.endProcess(entry)
      }
      if (wasRunning) entry.restarts++
      await this.spawn(entry)
      return entryFacts(entry)
    })
  }

  /** Live facts; an agent this supervisor does not know is `stopped`. */
  status(agentId: string): AgentFacts {
    const entry = this.entries.get(agentId)
    return entry ? entryFacts(entry) : idleFacts(agentId)
  }

  /** True once this supervisor has started the agent (until remove()). */
  knows(agentId: string): boolean {
    return this.entries.has(agentId)
  }

  /** Facts of every agent this supervisor knows. */
  list(): AgentFacts[] {
    return [...this.entries.values()].map((e) => entryFacts(e))
  }

  /** The newest `tail` lines (default all kept), oldest first. */
  logs(agentId: string, tail?: number): LogEntry[] {
    return this.entries.get(agentId)?.ring.tail(tail) ?? []
  }

  /** Stops the agent and forgets it; with `deleteLogs` its log files go too. */
  async remove(agentId: string, options: { deleteLogs?: boolean } = {}): Promise<void> {
    const entry = this.entries.get(agentId)
    if (entry) {
      await this.stop(agentId)
      await entry.file?.close()
      if (this.entries.get(agentId) === entry) this.entries.delete(agentId)
    }
    if (options.deleteLogs && this.options.logFile !== false) {
      assertAgentId(agentId)
      await removeLogFiles(this.options.logDir, agentId)
    }
  }

  /**
   * Stops every agent (in parallel) and the sampler. Idempotent; start() fails
   * afterwards. `maxTimeoutMs` caps each agent's stopTimeoutMs, so a server shutdown
   * fits its own deadline.
   */
  async stopAll(options: { maxTimeoutMs?: number } = {}): Promise<void> {
    this.closed = true
    await Promise.all([...this.entries.keys()].map((id) => this.stop(id, options)))
    this.watch.stopSamplerIfIdle()
    await Promise.all([...this.entries.values()].map((e) => e.file?.close()))
  }

  /** Resolves when every log line received so far is in its file (tests, shutdown). */
  async flushLogs(agentId?: string): Promise<void> {
    const entries = agentId ? [this.entries.get(agentId)] : [...this.entries.values()]
    await Promise.all(entries.map((e) => e?.file?.flush()))
  }

  // ---- internals -------------------------------------------------------------

  private parse(agentId: string, configuration: unknown): SupervisedConfig {
    assertAgentId(agentId)
    if (this.closed) throw new UnavailableError('the agent supervisor is shutting down')
    const errors = validateAgentConfig(configuration)
    if (errors.length > 0) throw new ValidationError('invalid agent configuration', errors)
    return normalizeAgentConfig(configuration)
  }

  private entry(agentId: string, config: SupervisedConfig, options: EntryOptions): AgentEntry {
    let entry = this.entries.get(agentId)
    if (!entry) {
      const file =
        this.options.logFile === false
          ? null
          : new RotatingLogFile(this.options.logDir, agentId, {
              ...DEFAULT_LOG_FILE_OPTIONS,
              ...this.options.logFile,
            })
      entry = new AgentEntry(agentId, config, new LogRing(this.options.logBufferLines ?? 1000), file)
      entry.restarts = options.restarts ?? 0
      this.entries.set(agentId, entry)
    }
    return entry
  }

  private enqueue<T>(entry: AgentEntry, fn: () => Promise<T>): Promise<T> {
    const run = entry.chain.then(fn, fn)
    entry.chain = run.then(
      () => {},
      () => {},
    )
    return run
  }

  private async spawn(entry: AgentEntry): Promise<void> {
    const { config } = entry
    if (!config.argv) throw new AgentNoCommandError(entry.id)
    this.setStatus(entry, 'starting', null)
    let proc: RuntimeProcess
    try {
      proc = await this.runtime.spawn({
        argv: config.argv,
        cwd: resolve(this.options.baseDir ?? process.cwd(), config.cwd ?? '.'),
        env: buildAgentEnv(entry.id, config, this.baseEnv),
      })
    } catch (err) {
      const message = (err as Error).message
      this.setStatus(entry, 'error', message)
      throw new AgentSpawnError(entry.id, message, err)
    }
    entry.proc = proc
    entry.expectExit = false
    entry.startedAt = new Date()
    entry.prevCpu = null
    entry.cpuPercent = null
    entry.memoryBytes = null
    entry.processCount = null
    entry.lastBeatAt = null
    entry.check = config.healthCheck ? { ok: null, detail: 'waiting for the first result' } : null
    proc.onLine((stream, line) => this.onLine(entry, proc, stream, line))
    proc.exited.then((exit) => {
      if (entry.proc === proc && !entry.expectExit) {
        this.enqueue(entry, () => this.handleCrash(entry, proc, exit)).catch(() => {})
      }
    })
    this.setStatus(entry, 'running', null)
    this.watch.startChecks(entry, proc)
    this.watch.ensureSampler()
  }

  /** Ends the current process on purpose (stop, restart, memory limit). */
  private async endProcess(entry: AgentEntry, timeoutMs = entry.config.stopTimeoutMs) {
    const proc = entry.proc!
    entry.expectExit = true
    this.watch.stopChecks(entry)
    const result = await proc.stop(timeoutMs)
    entry.lastExit = result.exit
    entry.proc = null
    entry.expectExit = false
    this.emit({ type: 'exit', agentId: entry.id, exit: result.exit, expected: true })
    return result
  }

  private async handleCrash(entry: AgentEntry, proc: RuntimeProcess, exit: ExitInfo): Promise<void> {
    if (entry.proc !== proc) return
    entry.lastExit = exit
    this.watch.stopChecks(entry)
    this.emit({ type: 'exit', agentId: entry.id, exit, expected: false })
    // The main process is gone; end whatever it left behind in its group.
    await proc.stop(entry.config.stopTimeoutMs)
    entry.proc = null
    const failed = exit.code !== 0 || exit.signal !== null
    const why = describeExit(exit)
    const policy = entry.config.restartPolicy
    if (policy === 'never' || (policy === 'on-failure' && !failed)) {
      this.setStatus(entry, failed ? 'error' : 'stopped', why)
      return
    }
    this.scheduleRestart(entry, why, exit.at.getTime())
  }

  private scheduleRestart(entry: AgentEntry, why: string, endedAt: number): void {
    const { maxRestarts, restartWindowMs } = entry.config
    if (entry.startedAt && endedAt - entry.startedAt.getTime() >= this.backoff.stableMs) entry.consecutive = 0
    if (!entry.window.tryRecord(Date.now(), maxRestarts, restartWindowMs)) {
      this.setStatus(
        entry,
        'error',
        `crash loop: more than ${maxRestarts} restarts within ${restartWindowMs} ms; last: ${why}`,
      )
      return
    }
    entry.consecutive++
    const delayMs = restartDelayMs(entry.consecutive, this.backoff, this.random)
    this.setStatus(entry, 'restarting', `${why}; restarting in ${delayMs} ms`)
    entry.restartTimer = setTimeout(() => {
      entry.restartTimer = null
      this.enqueue(entry, async () => {
        if (entry.status !== 'restarting' || entry.proc || this.closed) return
        entry.restarts++
        await this.spawn(entry)
      }).catch(() => {
        // spawn() already put the agent in `error` with the reason.
      })
    }, delayMs)
  }

  private clearRestartTimer(entry: AgentEntry): void {
    if (entry.restartTimer) clearTimeout(entry.restartTimer)
    entry.restartTimer = null
  }

  private onLine(entry: AgentEntry, proc: RuntimeProcess, stream: OutputStream, line: string): void {
    if (stream === 'stdout' && isHeartbeatLine(line)) {
      if (entry.proc !== proc) return
      entry.lastBeatAt = Date.now()
      if (entry.config.healthCheck?.type === 'heartbeat') this.watch.refreshHeartbeat(entry)
      return
    }
    const logged = entry.ring.push(stream, line)
    entry.file?.write(`${logged.ts.toISOString()} ${stream} ${line}`)
    this.emit({ type: 'log', agentId: entry.id, entry: logged })
  }

  private restartForMemory(entry: AgentEntry, memoryBytes: number): void {
    const proc = entry.proc
    const limit = entry.config.maxMemoryMb!
    const why = `memory ${(memoryBytes / 1048576).toFixed(1)} MB exceeded maxMemoryMb ${limit}`
    // Mark the exit as ours now, so the exit the stop causes is not also taken for a crash.
    entry.expectExit = true
    this.enqueue(entry, async () => {
      if (entry.proc !== proc || !proc) return
      setStatusQuiet(entry, 'restarting', why)
      this.emitStatus(entry)
      await this.endProcess(entry)
      this.scheduleRestart(entry, why, Date.now())
    }).catch(() => {})
  }

  private setStatus(entry: AgentEntry, status: AgentStatus, reason: string | null): void {
    const changed = entry.status !== status || entry.reason !== reason
    setStatusQuiet(entry, status, reason)
    if (changed) this.emitStatus(entry)
    else this.updateHealth(entry)
  }

  private emitStatus(entry: AgentEntry): void {
    if (entry.status !== 'running') {
      entry.cpuPercent = null
      entry.memoryBytes = null
      entry.processCount = null
    }
    const facts = entryFacts(entry)
    entry.health = facts.health
    entry.healthKey = healthKey(facts, entry.check)
    this.emit({ type: 'status', agentId: entry.id, facts })
    this.watch.stopSamplerIfIdle()
  }

  /** Recomputes health and emits a `health` event when the score or a part changed. */
  private updateHealth(entry: AgentEntry): void {
    const facts = entryFacts(entry)
    const key = healthKey(facts, entry.check)
    if (key === entry.healthKey) return
    entry.health = facts.health
    entry.healthKey = key
    this.emit({ type: 'health', agentId: entry.id, facts })
  }

  private emit(event: SupervisorEvent): void {
    for (const l of this.listeners) {
      try {
        l(event)
      } catch {
        // A faulty listener must not break supervision.
      }
    }
  }
}
