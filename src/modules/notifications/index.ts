// Wires the notifications area: the event source on the bus, the dispatcher
// that writes the outbox, the delivery worker with its sinks, and the rules
// API. Settings (MYNTRIX_NOTIFY_*) are listed in docs/ALERTS.md.

import { int } from '../../config.js'
import { createOutboundPolicy } from '../../net/outbound-policy.js'
import type { Area, AreaContext } from '../area.js'
import { type DeliverySettings, DeliveryWorker } from './delivery-worker.js'
import { Dispatcher } from './dispatcher.js'
import { EventSource } from './event-source.js'
import { Outbox } from './outbox.js'
import { ResourceLookup } from './resources.js'
import { notificationRoutes } from './routes.js'
import { RuleRepository } from './rule-repository.js'
import { NotificationsService } from './service.js'
import { MqttSink } from './sinks/mqtt.js'
import { WebhookSink } from './sinks/webhook.js'

export interface NotificationsArea extends Area {
  service: NotificationsService
  source: EventSource
  worker: DeliveryWorker
}

/** Delivery settings from MYNTRIX_NOTIFY_* (validated; a bad value stops start-up). */
export function deliverySettingsFrom(raw: Record<string, string | undefined>): DeliverySettings {
  return {
    timeoutMs: int(raw, 'MYNTRIX_NOTIFY_TIMEOUT_MS', 10_000, 100, 300_000),
    maxAttempts: int(raw, 'MYNTRIX_NOTIFY_MAX_ATTEMPTS', 8, 1, 100),
    retryBaseMs: int(raw, 'MYNTRIX_NOTIFY_RETRY_BASE_MS', 10_000, 1, 3_600_000),
    retryMaxMs: int(raw, 'MYNTRIX_NOTIFY_RETRY_MAX_MS', 900_000, 1, 86_400_000),
    concurrency: int(raw, 'MYNTRIX_NOTIFY_CONCURRENCY', 4, 1, 64),
    pollMs: int(raw, 'MYNTRIX_NOTIFY_POLL_MS', 5000, 50, 600_000),
    historyDays: int(raw, 'MYNTRIX_NOTIFY_HISTORY_DAYS', 30, 0, 36_500),
  }
}

export function createNotificationsArea(ctx: AreaContext): NotificationsArea {
  const settings = deliverySettingsFrom(ctx.config.raw)
  const policy = createOutboundPolicy(ctx.config)
  // A disabled or deleted owner has no reach left, and their rules send nothing.
  const roleOf = async (id: string) => {
    const user = await ctx.auth.repo.findUserById(id)
    return user && !user.disabled ? user.role : undefined
  }
  const rules = new RuleRepository(ctx.db)
  const outbox = new Outbox(ctx.db)
  const logger = ctx.logger.child({ area: 'notifications' })
  const worker = new DeliveryWorker({
    outbox,
    rules,
    sinks: { webhook: new WebhookSink(policy), mqtt: new MqttSink(policy) },
    roleOf,
    holder: ctx.instanceId,
    settings,
    logger,
  })
  const dispatcher = new Dispatcher({
    rules,
    outbox,
    roleOf,
    maxAttempts: settings.maxAttempts,
    queued: () => worker.wake(),
  })
  const source = new EventSource({
    bus: ctx.bus,
    lookup: new ResourceLookup(ctx.db),
    logger,
    deliver: (event) => dispatcher.dispatch(event),
  })
  const service = new NotificationsService({ rules, outbox, worker, policy, roleOf })
  return {
    name: 'notifications',
    service,
    source,
    worker,
    routes: (app) => notificationRoutes(app, service),
    start: async () => {
      source.start()
      worker.start()
    },
    stop: async () => {
      // Events already heard are written to the outbox first: they are sent after the next start.
      await source.stop()
      await worker.stop()
    },
  }
}
