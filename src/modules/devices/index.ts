// Wires the devices area: service from the shared context, routes, lifecycle.

import type { Area, AreaContext } from '../area.js'
import { ClusteredDevicesService } from './clustered-service.js'
import { deviceRoutes } from './routes.js'
import { DevicesService, type DevicesServiceOptions } from './service.js'

export interface DevicesArea extends Area {
  service: DevicesService
}

export function createDevicesArea(ctx: AreaContext): DevicesArea {
  const options: DevicesServiceOptions = {
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
    nodeName: ctx.cluster.node.name,
  }
  const { leases, rpc, redis, seal } = ctx.cluster
  // In a cluster, connected devices are held by lease and actions go to their holder.
  const service =
    leases && rpc && redis && seal
      ? new ClusteredDevicesService(options, { ...ctx.cluster, leases, rpc, redis, seal })
      : new DevicesService(options)
  return {
    name: 'devices',
    service,
    routes: (app) => deviceRoutes(app, service, ctx.bus),
    start: () => service.start(),
    stop: () => service.stop(),
  }
}
