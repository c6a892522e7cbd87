// One running container seen as a RuntimeProcess: its output as lines, its end (exit
// code, OOM kill, or removed behind our back), stop with escalation, and its usage
// from the engine's stats. The container is removed once it has ended, so nothing
// Myntrix started is left behind in `docker ps -a`.

import { constants } from 'node:os'
import { Writable } from 'node:stream'
import type Docker from 'dockerode'
import { identify } from '../../../process/identity.js'
import { LineSplitter } from '../lines.js'
import { engineMessage, engineStatusCode } from './docker-engine.js'
import type {
  ExitInfo,
  OutputStream,
  ProcessIdentity,
  ResourceUsage,
  RuntimeProcess,
  StopResult,
} from './types.js'

/** While the engine is away (restarting), how often to ask again how the container is. */
const ENGINE_RETRY_MS = 1000
/**
 * How long a SIGKILLed container with a memory limit is given for its OOM event to arrive, and
 * how often the engine is asked meanwhile. containerd reports the OOM and the exit as two
 * events in no fixed order; the engine marks OOMKilled when the first arrives, which on a busy
 * host (CI) was seen more than 250 ms after the exit. A kill Myntrix sent itself (a stop) is
 * looked at once, after one step.
 */
const OOM_EVENT_GRACE_MS = 2000
const OOM_EVENT_POLL_MS = 250
/** How long the end waits for the last output lines before the container is removed. */
const LOG_DRAIN_MS = 2000

/** The signal behind a shell-style exit status 128+n, as the container's init (tini)
 * reports a child killed by signal n: the same ExitInfo a local process gives. */
function exitFromStatus(status: number): { code: number | null; signal: NodeJS.Signals | null } {
  if (status > 128 && status < 128 + 65) {
    const n = status - 128
    const name = Object.entries(constants.signals).find(([, v]) => v === n)?.[0]
    if (name) return { code: null, signal: name as NodeJS.Signals }
  }
  return { code: status, signal: null }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/** The engine's stats as the supervisor's figures: cumulative CPU time, memory in use
 * without the page cache (what `docker stats` shows), processes in the container. */
function usageFromStats(stats: Docker.ContainerStats): ResourceUsage {
  const mem = stats.memory_stats ?? ({} as Docker.ContainerStats['memory_stats'])
  const detail = (mem.stats ?? {}) as Record<string, number | undefined>
  const cache = detail.total_inactive_file ?? detail.inactive_file ?? 0
  const used = Math.max(0, (mem.usage ?? 0) - cache)
  return {
    cpuTimeMs: (stats.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e6,
    memoryBytes: used,
    processCount: stats.pids_stats?.current ?? 0,
  }
}

export class ContainerProcess implements RuntimeProcess {
  readonly identity: ProcessIdentity
  readonly containerId: string
  readonly exited: Promise<ExitInfo>
  /** The latest stats sample, null until the first has come back. */
  latestUsage: ResourceUsage | null = null
  private exitInfo: ExitInfo | null = null
  private readonly listeners: ((stream: OutputStream, line: string) => void)[] = []
  private stopping: Promise<StopResult> | null = null
  private sampling = false
  private readonly logsEnded: Promise<void>

  /** `logsSince`: unix seconds; 0 for a container just created (all of its output),
   * the adoption time for one an earlier server left (what it printed since). */
  constructor(
    private readonly container: Docker.Container,
    info: Docker.ContainerInspectInfo,
    logsSince: number,
  ) {
    this.containerId = info.Id
    const pid = info.State.Pid
    this.identity = pid > 0 ? identify(pid) : { pid: 0, startTicks: null, bootId: null }
    this.logsEnded = this.follow(logsSince)
    this.exited = this.watch()
  }

  onLine(listener: (stream: OutputStream, line: string) => void): void {
    this.listeners.push(listener)
  }

  stop(timeoutMs: number): Promise<StopResult> {
    this.stopping ??= this.doStop(timeoutMs)
    return this.stopping
  }

  /** Asks the engine for one sample unless one is already on its way. */
  refreshUsage(): void {
    if (this.sampling || this.exitInfo) return
    this.sampling = true
    this.container
      .stats({ stream: false, 'one-shot': true })
      .then((stats) => {
        if (!this.exitInfo) this.latestUsage = usageFromStats(stats)
      })
      .catch(() => {
        // Gone or the engine away: the end is reported by watch().
      })
      .finally(() => {
        this.sampling = false
      })
  }

  private async doStop(timeoutMs: number): Promise<StopResult> {
    if (this.exitInfo) return { exit: await this.exited, killed: false }
    // To the container's init (tini), which passes it on to the agent.
    await this.signal('SIGTERM')
    let killed = false
    // SIGKILL to the init ends every process of the container's pid namespace.
    const timer = setTimeout(() => {
      killed = true
      void this.signal('SIGKILL')
    }, timeoutMs)
    try {
      return { exit: await this.exited, killed }
    } finally {
      clearTimeout(timer)
    }
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    try {
      await this.container.kill({ signal })
    } catch {
      // Not running any more (409) or gone (404): watch() reports the end.
    }
  }

  private async follow(since: number): Promise<void> {
    let stream: NodeJS.ReadableStream
    try {
      stream = await this.container.logs({ follow: true, stdout: true, stderr: true, since })
    } catch {
      return
    }
    const out = this.splitter('stdout')
    const err = this.splitter('stderr')
    await new Promise<void>((resolve) => {
      const done = () => {
        out.end()
        err.end()
        resolve()
      }
      stream.once('end', done)
      stream.once('close', done)
      stream.once('error', done)
      // Without a TTY the engine multiplexes both streams in 8-byte-header frames.
      this.container.modem.demuxStream(stream, sink(out), sink(err))
    })
  }

  /** false when someone else removed it first (gone, or their removal in progress). */
  private async remove(): Promise<boolean> {
    try {
      await this.container.remove({ force: true })
      return true
    } catch (err) {
      const status = engineStatusCode(err)
      if (status === 409 && /removal .*in progress/i.test(engineMessage(err))) {
        // Someone else's removal: the container is only gone once it has finished.
        await this.container.wait({ condition: 'removed' }).catch(() => {})
        return false
      }
      return status !== 404
    }
  }

  private splitter(name: OutputStream): LineSplitter {
    return new LineSplitter((line) => {
      for (const l of this.listeners) l(name, line)
    })
  }

  private async watch(): Promise<ExitInfo> {
    let removed = false
    for (;;) {
      try {
        await this.container.wait({ condition: 'not-running' })
        break
      } catch (err) {
        if (engineStatusCode(err) === 404) {
          removed = true
          break
        }
        // The engine went away (or the wait broke): ask again until it answers. A
        // stopped engine ends its containers, so the next wait returns their end.
        await delay(ENGINE_RETRY_MS)
      }
    }
    let exit: ExitInfo = { code: null, signal: null, at: new Date() }
    if (!removed) {
      try {
        let info = await this.container.inspect()
        const mayBeOom = () =>
          info.State.ExitCode === 128 + constants.signals.SIGKILL &&
          !info.State.OOMKilled &&
          Boolean(info.HostConfig.Memory)
        // The engine learns of an OOM kill by an event of its own, which can come just
        // after the exit: look again before calling it a plain SIGKILL.
        const grace = this.stopping ? OOM_EVENT_POLL_MS : OOM_EVENT_GRACE_MS
        for (let waited = 0; waited < grace && mayBeOom(); waited += OOM_EVENT_POLL_MS) {
          await delay(OOM_EVENT_POLL_MS)
          info = await this.container.inspect()
        }
        const at = new Date(info.State.FinishedAt)
        exit = {
          ...exitFromStatus(info.State.ExitCode),
          at: Number.isNaN(at.getTime()) || at.getTime() <= 0 ? new Date() : at,
          oomKilled: info.State.OOMKilled,
        }
      } catch (err) {
        if (engineStatusCode(err) === 404) removed = true
      }
    }
    await Promise.race([this.logsEnded, delay(LOG_DRAIN_MS)])
    if (!removed && !(await this.remove())) removed = true
    if (removed) exit.reason = 'the container was removed outside Myntrix'
    this.exitInfo = exit
    return exit
  }
}

function sink(splitter: LineSplitter): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      splitter.push(chunk)
      callback()
    },
  })
}
