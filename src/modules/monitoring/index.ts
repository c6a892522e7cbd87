import type { MonitoringSettings } from '../../config/index.js'
import type { Area, AreaContext } from '../area.js'
import { createMetricsRegistry, type MetricsRegistry } from './prometheus.js'
import { MonitoringRepository } from './repository.js'
import { monitoringRoutes } from './routes.js'
import { HostSampler } from './sampler.js'
import { MonitoringService } from './service.js'

export interface MonitoringArea extends Area {
  service: MonitoringService
  metrics: MetricsRegistry
}

export function createMonitoringArea(ctx: AreaContext, settings: MonitoringSettings): MonitoringArea {
  const repository = new MonitoringRepository(ctx.db)
  let lastReadError = ''
  const sampler = new HostSampler({
    intervalMs: settings.intervalMs,
    diskPath: settings.diskPath,
    onAggregate: (minute) => repository.saveMinute(minute),
    onError: (err) => {
      // A /proc read that fails once per second would flood the log: report changes only.
      if (err.message === lastReadError) return
      lastReadError = err.message
      ctx.logger.warn({ err }, 'host sampler: read or persist failed')
    },
  })
  const service = new MonitoringService({
    sampler,
    repository,
    retentionDays: settings.retentionDays,
    onError: (err, what) => ctx.logger.warn({ err }, `monitoring: ${what} failed`),
  })
  const metrics = createMetricsRegistry({
    sampler,
    repository,
    onError: (err, what) => ctx.logger.warn({ err }, `metrics: ${what} failed`),
  })
  return {
    name: 'monitoring',
    service,
    metrics,
    routes: (app) => monitoringRoutes(app, service, metrics),
    async start() {
      service.start()
    },
    async stop() {
      await service.stop()
    },
  }
}
