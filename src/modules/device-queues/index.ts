// Wires the device-queues area: queue items and device groups over the jobs,
// devices and device-files services, the dispatcher and what triggers it.

import { hasRole, type Principal } from '../../auth/principal.js'
import type { Area, AreaContext } from '../area.js'
import type { DeviceFilesService } from '../device-files/service.js'
import { TRANSFER_JOB_TYPE } from '../device-files/transfer.js'
import type { DevicesService } from '../devices/service.js'
import type { JobsService } from '../jobs/service.js'
import { FINISHED_JOB_STATUSES } from '../jobs/types.js'
import { QueueDispatcher } from './dispatcher.js'
import { GroupRepository } from './group-repository.js'
import { DeviceGroupsService } from './groups.js'
import { QueueRepository } from './repository.js'
import { deviceQueueRoutes } from './routes.js'
import { DeviceQueuesService } from './service.js'

export interface DeviceQueuesArea extends Area {
  service: DeviceQueuesService
  groups: DeviceGroupsService
  dispatcher: QueueDispatcher
}

/** A dispatch pass also runs this often: a reaper ends a dead process's jobs without an event. */
const SWEEP_MS = 15_000

export function createDeviceQueuesArea(
  ctx: AreaContext,
  deps: { jobs: JobsService; devices: DevicesService; deviceFiles: DeviceFilesService },
): DeviceQueuesArea {
  const items = new QueueRepository(ctx.db)
  const groupRepo = new GroupRepository(ctx.db)
  const { jobs, devices, deviceFiles } = deps
  // The dispatcher acts for a device's owner: it sees what the owner sees.
  const asOwner = (ownerId: string): Principal => ({
    id: ownerId,
    username: 'device-queue',
    role: 'operator',
    via: 'token',
  })
  const dispatcher = new QueueDispatcher(
    items,
    groupRepo,
    jobs,
    {
      device: async (id) => {
        const facts = await devices.facts(id)
        return facts ? devices.get(asOwner(facts.ownerId), id) : undefined
      },
      isConnected: (id) => devices.connectionOf(id)?.status === 'connected',
      isTransferring: (id) => deviceFiles.activeTransfer(id) !== undefined,
      protocolOf: (device) => devices.protocolOf(device),
      file: (deviceId, fileId) => deviceFiles.repository.get(deviceId, fileId),
      shareWith: (deviceId, file) => deviceFiles.shareWith(deviceId, file),
      startTransfer: async (device, file, jobId) => {
        await deviceFiles.startTransfer(device, file, undefined, { jobId })
      },
      ownerMayRun: async (ownerId) => {
        const user = await ctx.findUser(ownerId)
        return (
          user !== undefined &&
          !user.disabled &&
          hasRole({ ...asOwner(ownerId), role: user.role }, 'operator')
        )
      },
    },
    ctx.logger,
  )
  const trigger = () => dispatcher.trigger()
  let service: DeviceQueuesService
  const groups = new DeviceGroupsService(groupRepo, devices, (groupId) =>
    service.dropQueue({ kind: 'group', id: groupId }, 'the device group was deleted'),
  )
  service = new DeviceQueuesService(
    items,
    groups,
    jobs,
    devices,
    { file: (deviceId, fileId) => deviceFiles.repository.get(deviceId, fileId) },
    trigger,
  )
  const offs: (() => void)[] = []
  let sweep: NodeJS.Timeout | null = null
  return {
    name: 'device-queues',
    service,
    groups,
    dispatcher,
    routes: (app) => deviceQueueRoutes(app, service, groups),
    async start() {
      offs.push(
        ctx.bus.on('job.updated', ({ job }) => {
          // Any transfer's end frees a device (a queued one also ends its claim).
          if (
            job.type === TRANSFER_JOB_TYPE &&
            (FINISHED_JOB_STATUSES as readonly string[]).includes(job.status)
          )
            trigger()
        }),
        ctx.bus.on('device.status', (e) => {
          if (e.status === 'connected') trigger()
        }),
        ctx.bus.on('device.deleted', ({ deviceId }) => {
          void service
            .dropQueue({ kind: 'device', id: deviceId }, 'the device was deleted')
            .catch((err: Error) =>
              ctx.logger.warn({ deviceId, err: err.message }, 'could not drop a deleted device queue'),
            )
        }),
      )
      sweep = setInterval(trigger, SWEEP_MS)
      sweep.unref()
      trigger()
    },
    async stop() {
      if (sweep) clearInterval(sweep)
      sweep = null
      for (const off of offs.splice(0)) off()
      await dispatcher.stop()
    },
  }
}
