// The Docker Engine API client (dockerode, never the `docker` CLI): where the engine
// is (MYNTRIX_DOCKER_HOST), whether it answers, and what its errors mean to a user.

import Docker from 'dockerode'

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'

/** How long a status probe waits for the engine: a wedged daemon must not hang a request. */
const PING_TIMEOUT_MS = 2000

/** `unix:///path/to/docker.sock` or `tcp://host:port` (plain HTTP: keep it on loopback). */
export function dockerClient(host: string = DEFAULT_DOCKER_HOST): Docker {
  let url: URL
  try {
    url = new URL(host)
  } catch {
    throw new Error(`MYNTRIX_DOCKER_HOST must be unix:///path or tcp://host:port, got "${host}"`)
  }
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname })
  if (url.protocol === 'tcp:' || url.protocol === 'http:') {
    return new Docker({ host: url.hostname, port: Number(url.port) || 2375, protocol: 'http' })
  }
  throw new Error(`MYNTRIX_DOCKER_HOST must be unix:///path or tcp://host:port, got "${host}"`)
}

export type EngineStatus =
  | { reachable: true; version: string; apiVersion: string }
  | { reachable: false; reason: string }

/** Whether the engine answers, and its version: for the runtimes listing and for tests. */
export async function engineStatus(
  client: Docker,
  host: string = DEFAULT_DOCKER_HOST,
): Promise<EngineStatus> {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), PING_TIMEOUT_MS)
  try {
    // The client takes an abort signal here; its type declarations do not say so.
    const version = client.version.bind(client) as unknown as (options: {
      abortSignal: AbortSignal
    }) => Promise<Docker.DockerVersion>
    const v = await version({ abortSignal: abort.signal })
    return { reachable: true, version: v.Version, apiVersion: v.ApiVersion }
  } catch (err) {
    return {
      reachable: false,
      reason: abort.signal.aborted ? `no answer from ${host}` : unreachableReason(err, host),
    }
  } finally {
    clearTimeout(timer)
  }
}

interface EngineErrorShape {
  code?: string
  statusCode?: number
  json?: { message?: string } | null
  message?: string
}

/** The socket is missing, refused, or the connection broke: the engine is not there. */
export function isEngineUnavailable(err: unknown): boolean {
  const code = (err as EngineErrorShape | null)?.code
  return (
    code === 'ENOENT' ||
    code === 'ECONNREFUSED' ||
    code === 'EACCES' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ENOTFOUND' ||
    code === 'EHOSTUNREACH'
  )
}

export function engineStatusCode(err: unknown): number | null {
  const status = (err as EngineErrorShape | null)?.statusCode
  return typeof status === 'number' ? status : null
}

/** The engine's own words (its JSON `message`), without the client's HTTP preamble. */
export function engineMessage(err: unknown): string {
  const e = err as EngineErrorShape | null
  const fromEngine = e?.json?.message
  if (typeof fromEngine === 'string' && fromEngine !== '') return fromEngine
  return e?.message ?? String(err)
}

export function unreachableReason(err: unknown, host: string): string {
  const code = (err as EngineErrorShape | null)?.code
  if (code === 'ENOENT') return `the Docker socket ${host} does not exist (is dockerd running?)`
  if (code === 'ECONNREFUSED')
    return `the Docker engine at ${host} refused the connection (is dockerd running?)`
  if (code === 'EACCES') return `no permission to use the Docker socket ${host}`
  return `the Docker engine at ${host} is not reachable: ${code ?? engineMessage(err)}`
}
