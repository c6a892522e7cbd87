// Wires the devices area: service from the shared context, routes, lifecycle.

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
      policy: ctx.outbound,
      // A disabled or deleted owner has no reach of their own left.
      roleOf: async (id) => {
        const user = await ctx.findUser(id)
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
