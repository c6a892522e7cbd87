// Wires the notifications area: the event source on the bus, the dispatcher
// that writes the outbox, the delivery worker with its sinks, and the rules
// API. Its settings (MYNTRIX_NOTIFY_*, src/config/notifications.ts) are listed in docs/ALERTS.md.

import type { NotificationsSettings } from '../../config/index.js'
import type { Area, AreaContext } from '../area.js'
import { DeliveryWorker } from './delivery-worker.js'
import { Dispatcher } from './dispatcher.js'
import { EventSource } from './event-source.js'
import { Outbox } from './outbox.js'
import type { ResourceLookup } from './resources.js'
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

export function createNotificationsArea(
  ctx: AreaContext,
  settings: NotificationsSettings,
  deps: { resources: ResourceLookup },
): NotificationsArea {
  const policy = ctx.outbound
  // A disabled or deleted owner has no reach left, and their rules send nothing.
  const roleOf = async (id: string) => {
    const user = await ctx.findUser(id)
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
    lookup: deps.resources,
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
