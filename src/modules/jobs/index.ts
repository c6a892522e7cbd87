import type { Area, AreaContext } from '../area.js'
import { jobRoutes } from './routes.js'
import { JobsService } from './service.js'

export interface JobsArea extends Area {
  service: JobsService
}

export function createJobsArea(ctx: AreaContext): JobsArea {
  const service = new JobsService({ db: ctx.db, bus: ctx.bus })
  return {
    name: 'jobs',
    service,
    routes: (app) => jobRoutes(app, service),
    async start() {
      const n = await service.failInterrupted()
      if (n > 0) ctx.logger.warn({ count: n }, 'marked jobs left active by the previous process as failed')
    },
    async stop() {
      await service.stop()
    },
  }
}
