// A process runtime starts and ends one agent's processes. The supervisor owns the
// policy (restarts, backoff, health); a runtime only knows how to run things.
// `process.ts` is the local one; `docker.ts` runs each agent in a container.

import type { ProcessIdentity } from '../../../process/identity.js'

export type { ProcessIdentity }

export type OutputStream = 'stdout' | 'stderr'

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  at: Date
  /** The kernel's OOM killer ended it at its memory limit (containers only). */
  oomKilled?: boolean
  /** Why the runtime lost it, when it did not simply exit (e.g. removed behind our back). */
  reason?: string
}

/** A host path shown inside a container. */
export interface ContainerMount {
  source: string
  target: string
  readOnly: boolean
}

/** What a container runtime needs beyond argv and env. `network` is `none` unless asked:
 * an agent reaches the host's network only when an admin says so. */
export interface ContainerSpec {
  image: string
  network: 'none' | 'host'
  /** Hard memory limit enforced by the engine (and the same as the swap limit: no swap). */
  memoryMb?: number
  cpus?: number
  user?: string
  /** Inside the container; the image's own when absent. */
  workingDir?: string
  mounts: ContainerMount[]
}

export interface RuntimeSpec {
  /** For a container: its command; empty means the image's own. */
  argv: string[]
  /** Host directory for a process; not used by a container (see ContainerSpec.workingDir). */
  cwd: string
  /** The whole environment: nothing else is added by the runtime. */
  env: Record<string, string>
  /** The agent it runs for: a container runtime labels the container with it. */
  agentId?: string
  /** Required by a container runtime, ignored by the process runtime. */
  container?: ContainerSpec
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
  /** For a container, the engine's host pid of its init process. */
  readonly identity: ProcessIdentity
  /** The engine's id, for a process that is a container. */
  readonly containerId?: string
  /** Resolves when the main process has exited (the group may outlive it). */
  readonly exited: Promise<ExitInfo>
  /** Output, one call per line, without the line ending. */
  onLine(listener: (stream: OutputStream, line: string) => void): void
  /** SIGTERM to the whole group, SIGKILL after timeoutMs; resolves once the main
   * process and every group member are gone (a container is also removed). Idempotent. */
  stop(timeoutMs: number): Promise<StopResult>
}

export interface AgentRuntime {
  readonly name: string
  /** Resolves once the process runs; rejects with a RuntimeSpawnError. */
  spawn(spec: RuntimeSpec): Promise<RuntimeProcess>
  /** One sample for many processes at once (a single pass over /proc). A runtime whose
   * figures come from elsewhere (the Docker engine) answers with its latest sample and
   * refreshes in the background, so a process may be missing from the first answer. */
  usage(processes: readonly RuntimeProcess[]): Map<RuntimeProcess, ResourceUsage>
  /** Finds what an earlier server of this node left running (containers by label). Every
   * one is returned, running or exited; whoever adopts stops the ones it does not want. */
  adopt?(): Promise<AdoptedProcess[]>
}

export interface AdoptedProcess {
  agentId: string
  process: RuntimeProcess
  running: boolean
}

/** A driver error: flags say what happened, `cause` holds the system error. */
export class RuntimeSpawnError extends Error {
  readonly notFound: boolean
  readonly denied: boolean
  /** The runtime itself is not there (the Docker engine's socket missing or refused). */
  readonly unavailable: boolean
  constructor(
    message: string,
    options: { cause?: unknown; notFound?: boolean; denied?: boolean; unavailable?: boolean },
  ) {
    super(message, { cause: options.cause })
    this.name = 'RuntimeSpawnError'
    this.notFound = options.notFound ?? false
    this.denied = options.denied ?? false
    this.unavailable = options.unavailable ?? false
  }
}
