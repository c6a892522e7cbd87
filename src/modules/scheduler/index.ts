// Wires the scheduler area: repository, action registry, engine, service,
// routes; adapts the agents and devices services to the actions' interfaces.

import type { Principal } from '../../auth/principal.js'
import { type ChildrenSettings, onlyAdminsDecide, type SchedulerSettings } from '../../config/index.js'
import { UnprocessableError } from '../../errors.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import { OutboundDeniedError, type OutboundPolicy } from '../../net/outbound-policy.js'
import { childWorkspace } from '../../process/child-user.js'
import type { Area, AreaContext } from '../area.js'
import { STARTED_BY_SCHEDULER } from '../jobs/started-by.js'
import {
  type ActionRegistry,
  type Actor,
  type AgentControl,
  createActionRegistry,
  type DeviceControl,
  parseApiAllowEntry,
  roleNeed,
} from './actions/index.js'
import { type JobsLedger, SchedulerEngine } from './engine.js'
import { HistoryRetention, type JobsPruner } from './history-retention.js'
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

/** The few methods used from the device files service: start a transfer of a stored file. */
export interface DeviceFileSender {
  send(
    principal: Principal,
    deviceId: string,
    fileId: string,
    startedBy?: string,
  ): Promise<{ job: { id: string } }>
}

/** What a task needs of the jobs ledger to follow and stop a transfer it started. */
export interface JobWatcher {
  get(
    id: string,
  ): Promise<
    | { status: string; progress: number; error: string | null; details: Record<string, unknown> | null }
    | undefined
  >
  cancel(id: string, reason?: string): Promise<unknown>
}

export interface SchedulerDeps {
  jobs?: JobsLedger & JobWatcher & JobsPruner
  agents?: { control: AgentControl }
  devices?: DeviceCommands
  deviceFiles?: DeviceFileSender
}

/**
 * Device commands run as the task's owner. The owner's role is not at hand
 * here, so it acts as an operator: an admin's task reaches the admin's own
 * devices only (the conservative choice).
 */
function deviceControl(
  devices: DeviceCommands,
  files: DeviceFileSender | undefined,
  jobs: JobWatcher | undefined,
  bus: EventBus,
): DeviceControl {
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
    async sendFile(deviceId, fileId, opts) {
      if (!files || !jobs)
        throw new UnprocessableError('device file transfers are not available in this server')
      const { job } = await files.send(as(opts.actor), deviceId, fileId, STARTED_BY_SCHEDULER)
      return followTransfer(job.id, jobs, bus, opts)
    },
  }
}

const FINISHED = new Set(['completed', 'failed', 'cancelled', 'interrupted'])

/**
 * Waits for a transfer job to finish, reporting its progress; aborting the
 * task (timeout, cancel) cancels the transfer, so a run never leaves one behind.
 */
function followTransfer(
  jobId: string,
  jobs: JobWatcher,
  bus: EventBus,
  opts: { signal: AbortSignal; onProgress?: (percent: number) => void },
): Promise<{ linesSent?: number }> {
  return new Promise((resolve, reject) => {
    let done = false
    // Settles once, and stops listening whichever way it ends.
    const end = (outcome: () => void) => {
      if (done) return
      done = true
      off()
      opts.signal.removeEventListener('abort', onAbort)
      outcome()
    }
    const settle = (job: {
      status: string
      error?: string | null
      details: Record<string, unknown> | null
    }) => {
      if (!FINISHED.has(job.status)) return
      const lines = job.details?.linesSent
      end(() =>
        job.status === 'completed'
          ? resolve(typeof lines === 'number' ? { linesSent: lines } : {})
          : reject(new Error(`transfer ${job.status}${job.error ? `: ${job.error}` : ''}`)),
      )
    }
    const off = bus.on('job.updated', ({ job }) => {
      if (job.id !== jobId) return
      opts.onProgress?.(job.progress)
      settle(job)
    })
    const onAbort = () => {
      void jobs.cancel(jobId, 'the task run was stopped').catch(() => {})
    }
    opts.signal.addEventListener('abort', onAbort, { once: true })
    // The job may have finished before we listened.
    void jobs.get(jobId).then(
      (job) => job && settle(job),
      (err) => end(() => reject(err)),
    )
  })
}

/** How long a task owner's role and state are trusted before being read again. */
const OWNER_CACHE_MS = 5000

/**
 * Every run acts for the task's owner as the owner is now, not as when the task
 * was made: a disabled or deleted owner's tasks, a viewer's, and scripts of an
 * owner who is no longer an admin are refused at run time (the run fails with
 * the reason).
 */
function ownerChecked(
  registry: ActionRegistry,
  findOwner: (id: string) => Promise<{ role: string; disabled: boolean } | undefined>,
): ActionRegistry {
  const cache = new Map<string, { at: number; owner: { role: string; disabled: boolean } | undefined }>()
  const standing = async (ownerId: string | null) => {
    if (!ownerId) return undefined
    const hit = cache.get(ownerId)
    if (hit && Date.now() - hit.at < OWNER_CACHE_MS) return hit.owner
    const owner = await findOwner(ownerId)
    cache.set(ownerId, { at: Date.now(), owner })
    return owner
  }
  const refusal = async (ownerId: string | null, type: string, payload: unknown): Promise<string | null> => {
    const owner = await standing(ownerId)
    if (!owner || owner.disabled) return "refused: the task's owner is disabled or no longer exists"
    if (owner.role === 'viewer') return "refused: the task's owner is now a viewer and may not run tasks"
    // Agents refuse their own starts at run time (the agents area); here, what the action itself needs.
    const need =
      owner.role === 'admin' ? null : roleNeed(registry, type, payload, { childrenShareServerUser: false })
    if (need) return `refused: only an admin's tasks may ${need.what}; the task's owner is now ${owner.role}`
    return null
  }
  return {
    types: () => registry.types(),
    get(type) {
      const action = registry.get(type)
      if (!action) return undefined
      return {
        ...action,
        async run(payload, ctx, reg) {
          const reason = await refusal(ctx.actor.ownerId, type, payload)
          if (reason) {
            ctx.log.line(reason)
            return { ok: false, error: reason }
          }
          // The run acts with the owner's role as it is now: the outbound policy reads it.
          const owner = await standing(ctx.actor.ownerId)
          return action.run(payload, { ...ctx, actor: { ...ctx.actor, role: owner?.role } }, reg)
        },
      }
    },
  }
}

/**
 * MYNTRIX_API_ACTION_ALLOW only narrows where `api` tasks go; it does not open
 * what the outbound policy refuses to non-admins. Before that policy existed,
 * listing 127.0.0.1 there let every task reach it: say so at start-up rather
 * than let those tasks start failing unexplained.
 */
export function warnNarrowerThanPolicy(
  allow: readonly string[],
  policy: OutboundPolicy,
  logger: Logger,
): void {
  for (const raw of allow) {
    const entry = parseApiAllowEntry(raw)
    if (!entry || entry.name.startsWith('*.')) continue
    try {
      policy.checkLiteral({ role: undefined, host: entry.name, port: Number(entry.port ?? 80) })
    } catch (err) {
      if (!(err instanceof OutboundDeniedError)) throw err
      logger.warn(
        `MYNTRIX_API_ACTION_ALLOW lists ${raw}, which non-admins' api tasks may not reach under the outbound ` +
          'policy; name it in MYNTRIX_OUTBOUND_ALLOW to open it',
      )
    }
  }
}

export function createSchedulerArea(
  ctx: AreaContext,
  settings: SchedulerSettings,
  children: ChildrenSettings,
  deps: SchedulerDeps = {},
): SchedulerArea {
  const repo = new SchedulerRepository(ctx.db, ctx.dbEngine)
  const registry = ownerChecked(createActionRegistry(), ctx.findUser)
  // The heartbeat interval reaches the engine through ctx.liveness, not these settings.
  const { maxSleepMs, maxLogChars, historyDays: days } = settings
  const outbound = ctx.outbound
  warnNarrowerThanPolicy(settings.apiActionAllow, outbound, ctx.logger)
  const devices = deps.devices ? deviceControl(deps.devices, deps.deviceFiles, deps.jobs, ctx.bus) : undefined
  const engine = new SchedulerEngine({
    // One id per process, shared with the jobs ledger, which reaps by it too.
    instanceId: ctx.instanceId,
    liveness: ctx.liveness,
    watchChanges: ctx.watchDbChanges,
    repo,
    registry,
    bus: ctx.bus,
    logger: ctx.logger.child({ area: 'scheduler' }),
    jobs: deps.jobs,
    services: {
      agents: deps.agents?.control,
      devices,
      apiAllowHosts: settings.apiActionAllow,
      outbound,
      childUser: children.user,
      childWorkspace: childWorkspace(children.user),
    },
    ...(maxSleepMs !== undefined && { maxSleepMs }),
    ...(maxLogChars !== undefined && { maxLogChars }),
  })
  const service = new SchedulerService({
    repo,
    engine,
    registry,
    bus: ctx.bus,
    childrenShareServerUser: onlyAdminsDecide(children),
  })
  const retention = days
    ? new HistoryRetention({ repo, jobs: deps.jobs, days, logger: ctx.logger.child({ area: 'scheduler' }) })
    : null
  return {
    name: 'scheduler',
    service,
    engine,
    routes: (app) => schedulerRoutes(app, service),
    async start() {
      await engine.start()
      retention?.start()
    },
    async stop() {
      // Side by side: cancelling running actions need not wait for a delete in progress.
      await Promise.all([retention?.stop(), engine.stop()])
    },
  }
}
