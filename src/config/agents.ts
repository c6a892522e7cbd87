// The agents area's settings (MYNTRIX_AGENT_*; docs/AGENTS.md lists them).

import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { nodeName } from './cluster.js'
import { type Env, int, str } from './env.js'

export interface AgentsSettings {
  /** The server's private data directory (database, secrets): never mounted into a container. */
  dataDir: string
  /** Per-agent log files: written by the server, so under the private data directory. */
  logDir: string
  /** How often liveness, CPU, memory and heartbeats are sampled. */
  sampleIntervalMs: number
  /** Lines kept in memory per agent. */
  logBufferLines: number
  logFile: { maxBytes: number; maxFiles: number }
  /** Crash restart delays: first, cap of the doubling, and the uptime that resets them. */
  backoff: { initialMs: number; maxMs: number; stableMs: number }
  /** The Docker engine's API for container agents (unix:///path or tcp://host:port). */
  dockerHost: string
  /** The node name container labels carry: a server adopts and removes only its own. */
  nodeName: string
}

export function agentsSettings(env: Env, dataDir: string): AgentsSettings {
  return {
    dataDir,
    logDir: join(dataDir, 'logs', 'agents'),
    sampleIntervalMs: int(env, 'MYNTRIX_AGENT_SAMPLE_INTERVAL_MS', 2000, 50, 60_000),
    logBufferLines: int(env, 'MYNTRIX_AGENT_LOG_LINES', 1000, 1, 100_000),
    logFile: {
      maxBytes: int(env, 'MYNTRIX_AGENT_LOG_FILE_MAX_BYTES', 10 * 1024 * 1024, 1024, 1024 ** 3),
      maxFiles: int(env, 'MYNTRIX_AGENT_LOG_FILES', 3, 1, 100),
    },
    backoff: {
      initialMs: int(env, 'MYNTRIX_AGENT_BACKOFF_INITIAL_MS', 500, 1, 600_000),
      maxMs: int(env, 'MYNTRIX_AGENT_BACKOFF_MAX_MS', 30_000, 1, 3_600_000),
      stableMs: int(env, 'MYNTRIX_AGENT_STABLE_MS', 60_000, 1, 86_400_000),
    },
    dockerHost: dockerHost(str(env, 'MYNTRIX_DOCKER_HOST') ?? 'unix:///var/run/docker.sock'),
    nodeName: nodeName(env),
  }
}

function dockerHost(value: string): string {
  if (!/^(unix:\/\/\/.+|tcp:\/\/[^/\s]+)$/.test(value)) {
    throw new ConfigError('MYNTRIX_DOCKER_HOST', `must be unix:///path or tcp://host:port, got "${value}"`)
  }
  return value
}
