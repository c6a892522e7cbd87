// The Docker runtime: each agent process is a container created and started through
// the Engine API. Myntrix supervises it (restart policy stays `no` at the engine),
// labels it with the agent and the node that owns it so a later server can adopt it,
// and hands it only the environment the supervisor built, never the server's own.

import os from 'node:os'
import { posix } from 'node:path'
import type Docker from 'dockerode'
import { ContainerProcess } from './docker-container.js'
import {
  DEFAULT_DOCKER_HOST,
  dockerClient,
  type EngineStatus,
  engineMessage,
  engineStatus,
  engineStatusCode,
  isEngineUnavailable,
  unreachableReason,
} from './docker-engine.js'
import {
  type AdoptedProcess,
  type AgentRuntime,
  type ResourceUsage,
  type RuntimeProcess,
  RuntimeSpawnError,
  type RuntimeSpec,
} from './types.js'

export const LABELS = {
  managed: 'myntrix.managed',
  agent: 'myntrix.agent',
  node: 'myntrix.node',
} as const

const MIB = 1024 * 1024

/** Docker's log driver keeps its own copy of the output; Myntrix keeps the real log, so
 * the engine's is bounded to what adoption after a server restart may need. */
const ENGINE_LOG = { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } }

export interface DockerRuntimeOptions {
  /** MYNTRIX_DOCKER_HOST: unix:///var/run/docker.sock unless set. */
  host?: string
  /** Who owns the containers this runtime starts and adopts (the host name unless set).
   * A container labelled with another node is never touched. */
  node?: string
}

/** The engine's PATH for an image that sets none. */
const DEFAULT_CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** A path's mode bits in a (created) container, or null when it does not exist. The
 * engine answers a HEAD on the archive endpoint with the stat in a header. */
async function pathMode(container: Docker.Container, path: string): Promise<number | null> {
  try {
    const res = (await container.infoArchive({ path })) as { headers?: Record<string, string | undefined> }
    const header = res.headers?.['x-docker-container-path-stat']
    if (!header) return null
    const stat = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { mode?: number }
    return typeof stat.mode === 'number' ? stat.mode : null
  } catch (err) {
    if (engineStatusCode(err) === 404) return null
    throw err
  }
}

/** A readable container name (myntrix-<agent>-<time>); labels, not names, identify it. */
function containerName(agentId: string): string {
  const safe = agentId.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 64)
  return `myntrix-${safe}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
}

export class DockerRuntime implements AgentRuntime {
  readonly name = 'docker'
  readonly host: string
  readonly node: string
  readonly client: Docker

  constructor(options: DockerRuntimeOptions = {}) {
    this.host = options.host ?? DEFAULT_DOCKER_HOST
    this.node = options.node ?? os.hostname()
    this.client = dockerClient(this.host)
  }

  /** Whether the engine answers, with its version (for GET /api/myntrix/runtimes). */
  status(): Promise<EngineStatus> {
    return engineStatus(this.client, this.host)
  }

  async spawn(spec: RuntimeSpec): Promise<RuntimeProcess> {
    const c = spec.container
    if (!c) throw new RuntimeSpawnError('a container agent needs configuration.runtime.image', {})
    let container: Docker.Container
    try {
      container = await this.client.createContainer(this.createOptions(spec))
    } catch (err) {
      throw this.spawnError(err, c.image)
    }
    try {
      const command = spec.argv[0]
      if (command !== undefined) await this.checkCommand(container, command)
      await container.start()
      const info = await container.inspect()
      return new ContainerProcess(container, info, 0)
    } catch (err) {
      await container.remove({ force: true }).catch(() => {})
      throw this.spawnError(err, c.image)
    }
  }

  usage(processes: readonly RuntimeProcess[]): Map<RuntimeProcess, ResourceUsage> {
    const out = new Map<RuntimeProcess, ResourceUsage>()
    for (const p of processes) {
      if (!(p instanceof ContainerProcess)) continue
      if (p.latestUsage) out.set(p, p.latestUsage)
      p.refreshUsage()
    }
    return out
  }

  async adopt(): Promise<AdoptedProcess[]> {
    let listed: Docker.ContainerInfo[]
    try {
      listed = await this.client.listContainers({
        all: true,
        filters: { label: [`${LABELS.managed}=true`, `${LABELS.node}=${this.node}`] },
      })
    } catch (err) {
      throw this.spawnError(err, '')
    }
    const since = Math.floor(Date.now() / 1000)
    const adopted: AdoptedProcess[] = []
    for (const item of listed) {
      const agentId = item.Labels[LABELS.agent]
      if (!agentId) continue
      const container = this.client.getContainer(item.Id)
      let info: Docker.ContainerInspectInfo
      try {
        info = await container.inspect()
      } catch {
        continue // removed in between
      }
      adopted.push({
        agentId,
        running: info.State.Running,
        process: new ContainerProcess(container, info, since),
      })
    }
    return adopted
  }

  private createOptions(spec: RuntimeSpec): Docker.ContainerCreateOptions {
    const c = spec.container!
    const labels: Record<string, string> = { [LABELS.managed]: 'true', [LABELS.node]: this.node }
    if (spec.agentId) labels[LABELS.agent] = spec.agentId
    return {
      name: containerName(spec.agentId ?? 'agent'),
      Image: c.image,
      Cmd: spec.argv.length > 0 ? spec.argv : undefined,
      // Exactly what the supervisor built; the engine adds only the image's own ENV.
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: c.workingDir,
      User: c.user,
      Labels: labels,
      Tty: false,
      OpenStdin: false,
      HostConfig: {
        // tini as PID 1: it passes SIGTERM on to the agent (PID 1 ignores signals it has
        // no handler for) and reaps its orphans.
        Init: true,
        NetworkMode: c.network,
        RestartPolicy: { Name: 'no' },
        Memory: c.memoryMb ? c.memoryMb * MIB : undefined,
        MemorySwap: c.memoryMb ? c.memoryMb * MIB : undefined,
        NanoCpus: c.cpus ? Math.round(c.cpus * 1e9) : undefined,
        Mounts: c.mounts.map((m) => ({
          Type: 'bind',
          Source: m.source,
          Target: m.target,
          ReadOnly: m.readOnly,
        })),
        SecurityOpt: ['no-new-privileges'],
        LogConfig: ENGINE_LOG,
      },
    }
  }

  /** The container's init (tini) starts even when the command is missing and only then
   * fails, so a missing or non-executable command is found here, in the created
   * container's filesystem, to be refused like a local program would be. */
  private async checkCommand(container: Docker.Container, command: string): Promise<void> {
    const info = await container.inspect()
    const pathVar = info.Config.Env?.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_CONTAINER_PATH
    const candidates = command.includes('/')
      ? [posix.resolve(info.Config.WorkingDir || '/', command)]
      : pathVar
          .split(':')
          .filter((dir) => dir.startsWith('/'))
          .map((dir) => posix.join(dir, command))
    // Asked all at once (one round trip to the engine instead of one per PATH entry), then
    // taken in PATH order as a shell would.
    const modes = await Promise.all(candidates.map((path) => pathMode(container, path)))
    for (const [i, path] of candidates.entries()) {
      const mode = modes[i]
      if (mode === null) continue
      if ((mode & 0o111) === 0)
        throw new RuntimeSpawnError(`cannot start ${command}: ${path} is not executable`, { denied: true })
      return
    }
    throw new RuntimeSpawnError(`cannot start ${command}: not found in the container`, {
      cause: new Error(`ENOENT: ${command}`),
      notFound: true,
    })
  }

  private spawnError(err: unknown, image: string): RuntimeSpawnError {
    if (err instanceof RuntimeSpawnError) return err
    if (isEngineUnavailable(err)) {
      return new RuntimeSpawnError(unreachableReason(err, this.host), { cause: err, unavailable: true })
    }
    const message = engineMessage(err)
    if (engineStatusCode(err) === 404 && /no such image/i.test(message)) {
      return new RuntimeSpawnError(
        `image ${image} does not exist on the Docker engine (Myntrix does not pull)`,
        {
          cause: err,
          notFound: true,
        },
      )
    }
    // The OCI runtime's words for a command that is not in the image or may not run.
    const notFound = /executable file not found|no such file or directory/i.test(message)
    const denied = /permission denied/i.test(message)
    return new RuntimeSpawnError(`the Docker engine refused the container: ${message}`, {
      cause: err,
      notFound,
      denied,
    })
  }
}
