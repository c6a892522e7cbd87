import type { Area, AreaContext } from '../area.js'
import { jobRoutes } from './routes.js'
import { INSTANCE_STALE_MS, JobsService } from './service.js'

export interface JobsArea extends Area {
  service: JobsService
}

export function createJobsArea(ctx: AreaContext): JobsArea {
  const service = new JobsService({
    db: ctx.db,
    bus: ctx.bus,
    instanceId: ctx.instanceId,
    liveness: ctx.liveness,
    engine: ctx.dbEngine,
  })
  let reaper: NodeJS.Timeout | null = null
  const reap = async () => {
    const n = await service.failInterrupted()
    if (n > 0)
      ctx.logger.warn(
        { count: n },
        'ended the jobs of a stopped Myntrix process (interrupted with their checkpoint, else failed)',
      )
  }
  return {
    name: 'jobs',
    service,
    routes: (app) => jobRoutes(app, service),
    async start() {
      await reap()
      // A peer that died without a clean stop is noticed once its heartbeat goes stale.
      reaper = setInterval(() => void reap().catch(() => {}), INSTANCE_STALE_MS / 2)
      reaper.unref()
    },
    async stop() {
      if (reaper) clearInterval(reaper)
      reaper = null
      await service.stop()
    },
  }
}
