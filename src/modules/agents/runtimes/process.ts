// The local process runtime: spawn without a shell, in a new session and process
// group (detached), so one signal to -pid reaches the agent and its descendants.

import { type ChildProcess, spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { type ChildUser, spawnIdentity } from '../../../process/child-user.js'
import { identify } from '../../../process/identity.js'
import { CLOCK_TICKS_PER_SECOND, isGroupAlive, pageSizeBytes, readBootId } from '../../../process/proc.js'
import { ProcessTreeSampler } from '../../../process/tree-sampler.js'
import { LineSplitter } from '../lines.js'
import {
  type AgentRuntime,
  type ExitInfo,
  type OutputStream,
  type ProcessIdentity,
  type ResourceUsage,
  type RuntimeProcess,
  RuntimeSpawnError,
  type RuntimeSpec,
  type StopResult,
} from './types.js'

/** How often a stop checks whether the last group member is gone. There is no event
 * for "a process that is not my child exited", so this is a short poll. */
const GROUP_POLL_MS = 20

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: the group is already gone. EPERM: nothing we may do.
  }
}

function waitGroupGone(pgid: number, onPoll: () => void): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!isGroupAlive(pgid)) return resolve()
      onPoll()
      setTimeout(check, GROUP_POLL_MS)
    }
    check()
  })
}

class LocalProcess implements RuntimeProcess {
  readonly exited: Promise<ExitInfo>
  private exitInfo: ExitInfo | null = null
  private readonly listeners: ((stream: OutputStream, line: string) => void)[] = []
  private stopping: Promise<StopResult> | null = null

  constructor(
    child: ChildProcess,
    readonly identity: ProcessIdentity,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal, at: new Date() }
        resolve(this.exitInfo)
      })
    })
    this.pipe(child.stdout, 'stdout')
    this.pipe(child.stderr, 'stderr')
  }

  onLine(listener: (stream: OutputStream, line: string) => void): void {
    this.listeners.push(listener)
  }

  stop(timeoutMs: number): Promise<StopResult> {
    this.stopping ??= this.doStop(timeoutMs)
    return this.stopping
  }

  private async doStop(timeoutMs: number): Promise<StopResult> {
    const pgid = this.identity.pid
    // Fast path: exited and nothing left in the group (the common crash case).
    if (this.exitInfo && !isGroupAlive(pgid)) return { exit: this.exitInfo, killed: false }
    signalGroup(pgid, 'SIGTERM')
    let killed = false
    const timer = setTimeout(() => {
      killed = true
      signalGroup(pgid, 'SIGKILL')
    }, timeoutMs)
    try {
      await this.exited
      // The main process is gone; wait for the rest of the group. Once escalated, keep
      // sending SIGKILL in case a member forked in between.
      await waitGroupGone(pgid, () => {
        if (killed) signalGroup(pgid, 'SIGKILL')
      })
    } finally {
      clearTimeout(timer)
    }
    return { exit: this.exitInfo!, killed }
  }

  private pipe(stream: NodeJS.ReadableStream | null, name: OutputStream): void {
    if (!stream) return
    const splitter = new LineSplitter((line) => {
      for (const l of this.listeners) l(name, line)
    })
    stream.on('data', (chunk: Buffer) => splitter.push(chunk))
    stream.on('end', () => splitter.end())
    stream.on('error', () => splitter.end())
  }
}

export class ProcessRuntime implements AgentRuntime {
  readonly name = 'process'
  private readonly bootId = readBootId()
  /** Measures the agents' trees; a whole pass over /proc only now and then (see tree-sampler.ts). */
  private readonly trees = new ProcessTreeSampler()

  /** `user`: run agents as this OS user instead of the server's (see src/process/child-user.ts). */
  constructor(private readonly user?: ChildUser) {}

  async spawn(spec: RuntimeSpec): Promise<RuntimeProcess> {
    const [file, ...args] = spec.argv
    // Check cwd first: spawn reports a missing cwd as ENOENT, indistinguishable from
    // a missing program.
    try {
      const st = await stat(spec.cwd)
      if (!st.isDirectory()) throw new Error('not a directory')
    } catch (err) {
      throw new RuntimeSpawnError(`cwd ${spec.cwd} is not a directory`, { cause: err, notFound: true })
    }
    const child = spawn(file, args, {
      cwd: spec.cwd,
      env: spec.env,
      ...spawnIdentity(this.user),
      detached: true,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        child.off('spawn', onSpawn)
        // As another user, EACCES may also mean that user cannot enter the cwd.
        const as =
          this.user && err.code === 'EACCES'
            ? ` as user ${this.user.name} (it must be able to enter ${spec.cwd} and run ${file})`
            : ''
        reject(
          new RuntimeSpawnError(`cannot start ${file}${as}: ${err.code ?? err.message}`, {
            cause: err,
            notFound: err.code === 'ENOENT',
            denied: err.code === 'EACCES',
          }),
        )
      }
      const onSpawn = () => {
        child.off('error', onError)
        resolve()
      }
      child.once('error', onError)
      child.once('spawn', onSpawn)
    })
    // After 'spawn' errors are not expected, but an unhandled 'error' would crash the server.
    child.on('error', () => {})
    const pid = child.pid!
    return new LocalProcess(child, identify(pid, this.bootId))
  }

  usage(processes: readonly RuntimeProcess[]): Map<RuntimeProcess, ResourceUsage> {
    const out = new Map<RuntimeProcess, ResourceUsage>()
    if (processes.length === 0) return out
    const trees = this.trees.sample(processes.map((p) => ({ pid: p.identity.pid, pgid: p.identity.pid })))
    const page = pageSizeBytes()
    for (const p of processes) {
      const tree = trees.get(p.identity.pid) ?? []
      let ticks = 0
      let pages = 0
      for (const st of tree) {
        ticks += st.cpuTicks
        pages += st.rssPages
      }
      out.set(p, {
        cpuTimeMs: (ticks * 1000) / CLOCK_TICKS_PER_SECOND,
        memoryBytes: pages * page,
        processCount: tree.length,
      })
    }
    return out
  }
}
