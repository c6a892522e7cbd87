// Wires the agents area: supervisor + service + routes, with settings from the
// environment (MYNTRIX_AGENT_*; see docs/AGENTS.md).

import { join } from 'node:path'
import { ConfigError } from '../../errors.js'
import { childWorkspace } from '../../process/child-user.js'
import type { Area, AreaContext } from '../area.js'
import { safeBaseEnv } from './env.js'
import { agentRoutes } from './routes.js'
import { ProcessRuntime } from './runtimes/process.js'
import { AgentsService } from './service.js'
import { Supervisor, type SupervisorOptions } from './supervisor.js'

export interface AgentsArea extends Area {
  service: AgentsService
  supervisor: Supervisor
}

function setting(
  raw: Record<string, string | undefined>,
  name: string,
  def: number,
  min: number,
  max: number,
): number {
  const v = raw[name]?.trim()
  if (v === undefined || v === '') return def
  const n = Number(v)
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${v}"`)
  }
  return n
}

/** Supervisor settings from MYNTRIX_AGENT_* variables (validated; a bad value stops start-up). */
export function supervisorOptionsFrom(
  raw: Record<string, string | undefined>,
  dataDir: string,
): SupervisorOptions {
  return {
    logDir: join(dataDir, 'logs', 'agents'),
    sampleIntervalMs: setting(raw, 'MYNTRIX_AGENT_SAMPLE_INTERVAL_MS', 2000, 50, 60_000),
    logBufferLines: setting(raw, 'MYNTRIX_AGENT_LOG_LINES', 1000, 1, 100_000),
    logFile: {
      maxBytes: setting(raw, 'MYNTRIX_AGENT_LOG_FILE_MAX_BYTES', 10 * 1024 * 1024, 1024, 1024 ** 3),
      maxFiles: setting(raw, 'MYNTRIX_AGENT_LOG_FILES', 3, 1, 100),
    },
    backoff: {
      initialMs: setting(raw, 'MYNTRIX_AGENT_BACKOFF_INITIAL_MS', 500, 1, 600_000),
      maxMs: setting(raw, 'MYNTRIX_AGENT_BACKOFF_MAX_MS', 30_000, 1, 3_600_000),
      stableMs: setting(raw, 'MYNTRIX_AGENT_STABLE_MS', 60_000, 1, 86_400_000),
    },
  }
}

export function createAgentsArea(ctx: AreaContext): AgentsArea {
  const options = supervisorOptionsFrom(ctx.config.raw, ctx.config.dataDir)
  const { childUser } = ctx.config
  // Log files are written by the server (the child only has pipes), so they stay in
  // the private data directory; the child starts somewhere its own user may enter.
  const workspace = childWorkspace(childUser)
  const baseEnv = safeBaseEnv()
  if (workspace.home) baseEnv.HOME = workspace.home
  else delete baseEnv.HOME
  const supervisor = new Supervisor({
    ...options,
    runtime: new ProcessRuntime(childUser),
    baseDir: workspace.cwd,
    baseEnv,
  })
  const service = new AgentsService({
    db: ctx.db,
    bus: ctx.bus,
    logger: ctx.logger,
    supervisor,
    logDir: options.logDir,
    childrenShareServerUser: childUser === undefined && !ctx.config.trustOperators,
    findOwner: (id) => ctx.auth.repo.findUserById(id),
  })
  return {
    name: 'agents',
    service,
    supervisor,
    routes: (app) => agentRoutes(app, service, ctx.bus),
    start: () => service.resume(),
    stop: () => service.stop(),
  }
}
