// A process runtime starts and ends one agent's processes. The supervisor owns the
// policy (restarts, backoff, health); a runtime only knows how to run things.
// `process.ts` is the local one; a container runtime would be one more file.

import type { ProcessIdentity } from '../../../process/identity.js'

export type { ProcessIdentity }

export type OutputStream = 'stdout' | 'stderr'

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  at: Date
}

export interface RuntimeSpec {
  argv: string[]
  cwd: string
  env: Record<string, string>
}

export interface ResourceUsage {
  /** CPU time of the whole tree since it started, in ms (monotonic while children are reaped). */
  cpuTimeMs: number
  memoryBytes: number
  processCount: number
}

export interface StopResult {
  exit: ExitInfo
  /** true when SIGKILL was needed because SIGTERM was not enough within the timeout. */
  killed: boolean
}

export interface RuntimeProcess {
  readonly identity: ProcessIdentity
  /** Resolves when the main process has exited (the group may outlive it). */
  readonly exited: Promise<ExitInfo>
  /** Output, one call per line, without the line ending. */
  onLine(listener: (stream: OutputStream, line: string) => void): void
  /** SIGTERM to the whole group, SIGKILL after timeoutMs; resolves once the main
   * process and every group member are gone. Idempotent. */
  stop(timeoutMs: number): Promise<StopResult>
}

export interface AgentRuntime {
  readonly name: string
  /** Resolves once the process runs; rejects with a RuntimeSpawnError. */
  spawn(spec: RuntimeSpec): Promise<RuntimeProcess>
  /** One sample for many processes at once (a single pass over /proc). */
  usage(processes: readonly RuntimeProcess[]): Map<RuntimeProcess, ResourceUsage>
}

/** A driver error: flags say what happened, `cause` holds the system error. */
export class RuntimeSpawnError extends Error {
  readonly notFound: boolean
  readonly denied: boolean
  constructor(message: string, options: { cause?: unknown; notFound?: boolean; denied?: boolean }) {
    super(message, { cause: options.cause })
    this.name = 'RuntimeSpawnError'
    this.notFound = options.notFound ?? false
    this.denied = options.denied ?? false
  }
}
