// Wires the devices area: service from the shared context, routes, lifecycle.

import { createOutboundPolicy } from '../../net/outbound-policy.js'
import type { Area, AreaContext } from '../area.js'
import { deviceRoutes } from './routes.js'
import { DevicesService } from './service.js'

export interface DevicesArea extends Area {
  service: DevicesService
}

export function createDevicesArea(ctx: AreaContext): DevicesArea {
  const service = new DevicesService({
    db: ctx.db,
    bus: ctx.bus,
    logger: ctx.logger,
    outbound: {
      policy: createOutboundPolicy(ctx.config),
      // A disabled or deleted owner has no reach of their own left.
      roleOf: async (id) => {
        const user = await ctx.auth.repo.findUserById(id)
        return user && !user.disabled ? user.role : undefined
      },
    },
  })
  return {
    name: 'devices',
    service,
    routes: (app) => deviceRoutes(app, service, ctx.bus),
    start: () => service.start(),
    stop: () => service.stop(),
  }
}
