// Wires the scheduler area: repository, action registry, engine, service,
// routes; adapts the agents and devices services to the actions' interfaces.

import type { Principal } from '../../auth/principal.js'
import { ConfigError, UnprocessableError } from '../../errors.js'
import type { Area, AreaContext } from '../area.js'
import { type Actor, type AgentControl, createActionRegistry, type DeviceControl } from './actions/index.js'
import { type EngineOptions, type JobsLedger, SchedulerEngine } from './engine.js'
import { SchedulerRepository } from './repository.js'
import { schedulerRoutes } from './routes.js'
import { SchedulerService } from './service.js'

export interface SchedulerArea extends Area {
  service: SchedulerService
  engine: SchedulerEngine
}

/** The few methods used from the devices service. */
export interface DeviceCommands {
  command(
    principal: Principal,
    id: string,
    text: string,
    timeoutMs?: number,
  ): Promise<{ ok: boolean; message: string; response: string[] }>
}

export interface SchedulerDeps {
  jobs?: JobsLedger
  agents?: { control: AgentControl }
  devices?: DeviceCommands
}

type Tuning = Pick<EngineOptions, 'claimAheadMs' | 'maxSleepMs' | 'heartbeatMs' | 'maxLogChars'>

function setting(
  raw: Record<string, string | undefined>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const v = raw[name]?.trim()
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${v}"`)
  }
  return n
}

/** Engine settings from MYNTRIX_SCHEDULER_* (see docs/SCHEDULER.md). */
export function engineTuningFrom(raw: Record<string, string | undefined>): Tuning {
  return {
    claimAheadMs: setting(raw, 'MYNTRIX_SCHEDULER_CLAIM_AHEAD_MS', 0, 10_000),
    maxSleepMs: setting(raw, 'MYNTRIX_SCHEDULER_MAX_SLEEP_MS', 50, 600_000),
    heartbeatMs: setting(raw, 'MYNTRIX_SCHEDULER_HEARTBEAT_MS', 100, 600_000),
    maxLogChars: setting(raw, 'MYNTRIX_SCHEDULER_LOG_MAX_CHARS', 1024, 16 * 1024 * 1024),
  }
}

/**
 * Device commands run as the task's owner. The owner's role is not at hand
 * here, so it acts as an operator: an admin's task reaches the admin's own
 * devices only (the conservative choice).
 */
function deviceControl(devices: DeviceCommands): DeviceControl {
  const as = (actor: Actor): Principal => ({
    id: actor.ownerId ?? '',
    username: 'scheduler',
    role: 'operator',
    via: 'token',
  })
  return {
    async command(deviceId, command, opts) {
      const result = await devices.command(as(opts.actor), deviceId, command)
      if (!result.ok) throw new Error(`device answered ${result.message || result.response.join(' ')}`)
      return { reply: result.response }
    },
    async sendFile() {
      throw new UnprocessableError(
        'streaming a stored file from a task is not wired to the device files area yet',
      )
    },
  }
}

export function createSchedulerArea(ctx: AreaContext, deps: SchedulerDeps = {}): SchedulerArea {
  const repo = new SchedulerRepository(ctx.db, ctx.dbEngine)
  const registry = createActionRegistry()
  const tuning = Object.fromEntries(
    Object.entries(engineTuningFrom(ctx.config.raw)).filter(([, v]) => v !== undefined),
  ) as Tuning
  const devices = deps.devices ? deviceControl(deps.devices) : undefined
  const engine = new SchedulerEngine({
    repo,
    registry,
    bus: ctx.bus,
    logger: ctx.logger.child({ area: 'scheduler' }),
    jobs: deps.jobs,
    services: { agents: deps.agents?.control, devices, apiAllowHosts: ctx.config.apiActionAllow },
    ...tuning,
  })
  const service = new SchedulerService({ repo, engine, registry, bus: ctx.bus })
  return {
    name: 'scheduler',
    service,
    engine,
    routes: (app) => schedulerRoutes(app, service),
    start: () => engine.start(),
    stop: () => engine.stop(),
  }
}
