import type { AppInstance } from '../area.js'
import type { MetricsRegistry } from './prometheus.js'
import { historyView, SystemMetricsQuery, SystemMetricsSchema, sampleView } from './schemas.js'
import type { MonitoringService } from './service.js'

export function monitoringRoutes(
  app: AppInstance,
  service: MonitoringService,
  metrics: MetricsRegistry,
): void {
  // Every request's duration, labelled by route template (not the raw URL, so
  // ids do not explode the label set). A callback hook: an async one would cost
  // a promise and a microtask turn on every request.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    )
    done()
  })

  app.get(
    '/api/myntrix/system-metrics',
    {
      schema: {
        tags: ['monitoring'],
        summary:
          'Current host CPU, memory, load, disk and network; with window or from/to/step also a history series',
        querystring: SystemMetricsQuery,
        response: { 200: SystemMetricsSchema },
      },
    },
    async (request) => {
      // Parse the history query first: a bad value is a 400 even before the first sample.
      const history = await service.history(request.query)
      const current = sampleView(await service.current())
      return history ? { ...current, history: historyView(history) } : current
    },
  )

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['monitoring'],
        summary: 'Prometheus exposition format (authenticated unless MYNTRIX_METRICS_PUBLIC=true)',
      },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType)
      return metrics.registry.metrics()
    },
  )
}
