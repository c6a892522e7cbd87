// One supervised agent's state and what the supervisor reports from it: the
// statuses, the facts (status, process, usage, health) and the events. Pure
// bookkeeping: the supervisor (supervisor.ts) drives it, health-watch.ts
// measures it.

import { RestartWindow } from '../../backoff.js'
import { ValidationError } from '../../errors.js'
import type { SupervisedConfig } from './config.js'
import { type CheckResult, computeHealth, type HealthDetails, idleHealth } from './health.js'
import type { LogEntry, LogRing } from './log-buffer.js'
import type { RotatingLogFile } from './log-file.js'
import type { ExitInfo, ProcessIdentity, RuntimeProcess } from './runtimes/types.js'

export const AGENT_STATUSES = ['stopped', 'starting', 'running', 'stopping', 'restarting', 'error'] as const
/** The statuses in which the agent has (or is about to have) a process. */
export const ACTIVE_STATUSES: ReadonlySet<string> = new Set(['starting', 'running', 'stopping', 'restarting'])
export type AgentStatus = (typeof AGENT_STATUSES)[number]

/** What the supervisor knows about one agent right now. */
export interface AgentFacts {
  agentId: string
  status: AgentStatus
  /** Why the agent is in this status (exit code, crash loop, spawn failure), or null. */
  reason: string | null
  pid: number | null
  /** pid + start time + boot id of the running process: record it for orphan recovery. */
  process: ProcessIdentity | null
  /** The engine's id of the running container (docker runtime), else null. */
  containerId: string | null
  startedAt: Date | null
  /** Restarts (automatic and requested) since this supervisor first started the agent. */
  restarts: number
  lastExit: ExitInfo | null
  /** CPU of the whole process tree, % of one core, over the last sample interval. */
  cpuPercent: number | null
  /** Resident memory of the whole process tree. */
  memoryBytes: number | null
  processCount: number | null
  health: number
  healthDetails: HealthDetails
}

export type SupervisorEvent =
  | { type: 'status'; agentId: string; facts: AgentFacts }
  | { type: 'health'; agentId: string; facts: AgentFacts }
  | { type: 'log'; agentId: string; entry: LogEntry }
  | { type: 'exit'; agentId: string; exit: ExitInfo; expected: boolean }

/** Seeds for an agent the supervisor has not seen yet (ignored afterwards). */
export interface EntryOptions {
  /** Restarts counted before (e.g. by an earlier server), so the count carries on. */
  restarts?: number
}

const AGENT_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/

/** One agent's state in the supervisor: its process, restarts, checks and usage. */
export class AgentEntry {
  status: AgentStatus = 'stopped'
  reason: string | null = null
  proc: RuntimeProcess | null = null
  /** Set while the supervisor itself ends `proc`, so its exit is not a crash. */
  expectExit = false
  startedAt: Date | null = null
  restarts = 0
  lastExit: ExitInfo | null = null
  readonly window = new RestartWindow()
  /** Crashes in a row without a stable run in between; drives the backoff. */
  consecutive = 0
  restartTimer: NodeJS.Timeout | null = null
  checkTimer: NodeJS.Timeout | null = null
  checkInFlight = false
  checkAbort: AbortController | null = null
  check: CheckResult | null = null
  lastBeatAt: number | null = null
  cpuPercent: number | null = null
  memoryBytes: number | null = null
  processCount: number | null = null
  prevCpu: { ms: number; at: number } | null = null
  health = 0
  healthKey = ''
  chain: Promise<void> = Promise.resolve()

  constructor(
    readonly id: string,
    public config: SupervisedConfig,
    readonly ring: LogRing,
    readonly file: RotatingLogFile | null,
  ) {}
}

/** What the supervisor reports about an agent it knows. */
export function entryFacts(entry: AgentEntry): AgentFacts {
  const running = entry.status === 'running' && entry.proc !== null
  const { health, details } = computeHealth({
    alive: running,
    recentRestarts: entry.window.count(Date.now(), entry.config.restartWindowMs),
    check: entry.config.healthCheck ? (running ? entry.check : null) : null,
    memoryBytes: running ? entry.memoryBytes : null,
    maxMemoryMb: entry.config.maxMemoryMb,
    cpuPercent: running ? entry.cpuPercent : null,
  })
  return {
    agentId: entry.id,
    status: entry.status,
    reason: entry.reason,
    pid: entry.proc?.identity.pid ?? null,
    process: entry.proc ? { ...entry.proc.identity } : null,
    containerId: entry.proc?.containerId ?? null,
    startedAt: entry.proc ? entry.startedAt : null,
    restarts: entry.restarts,
    lastExit: entry.lastExit,
    cpuPercent: running ? round1(entry.cpuPercent) : null,
    memoryBytes: running ? entry.memoryBytes : null,
    processCount: running ? entry.processCount : null,
    health,
    healthDetails: details,
  }
}

/** What it reports about one it does not know: stopped, no history. */
export function idleFacts(agentId: string): AgentFacts {
  const { health, details } = idleHealth()
  return {
    agentId,
    status: 'stopped',
    reason: null,
    pid: null,
    process: null,
    containerId: null,
    startedAt: null,
    restarts: 0,
    lastExit: null,
    cpuPercent: null,
    memoryBytes: null,
    processCount: null,
    health,
    healthDetails: details,
  }
}

export function setStatusQuiet(entry: AgentEntry, status: AgentStatus, reason: string | null): void {
  entry.status = status
  entry.reason = reason
}

/** What makes a `health` event worth sending: the score, a part's score, or the check
 * moving between pending, passing and failing (not every new measurement). */
export function healthKey(f: AgentFacts, check: CheckResult | null): string {
  const d = f.healthDetails
  return `${f.health}|${check?.ok}|${d.liveness.score}|${d.check.score}|${d.recentRestarts.score}|${d.memory.score}|${d.cpu.score}`
}

function round1(v: number | null): number | null {
  return v === null ? null : Math.round(v * 10) / 10
}

export function describeExit(exit: Pick<ExitInfo, 'code' | 'signal' | 'oomKilled' | 'reason'>): string {
  if (exit.reason) return exit.reason
  if (exit.oomKilled)
    return `killed by ${exit.signal ?? 'the kernel'}: out of memory at its memory limit (OOM)`
  if (exit.signal) return `killed by ${exit.signal}`
  return `exited with code ${exit.code}`
}

export function assertAgentId(agentId: string): void {
  // The id names a log file: keep it a plain file name.
  if (!AGENT_ID.test(agentId) || agentId === '.' || agentId === '..') {
    throw new ValidationError(`invalid agent id ${JSON.stringify(agentId)}`, [
      { path: '/id', message: 'agent id must be 1-128 characters of A-Z a-z 0-9 _ . -' },
    ])
  }
}
