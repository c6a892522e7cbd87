// Wires the device-files area: storage (the database on PostgreSQL, else the data dir), the service with
// the jobs and devices services it drives, routes, lifecycle.

import type { DeviceFilesSettings } from '../../config/index.js'
import type { Area, AreaContext } from '../area.js'
import type { JobsService } from '../jobs/service.js'
import type { BlobStore } from './blob-store.js'
import { PgBlobStore } from './pg-blob-store.js'
import type { DevicesPort } from './ports.js'
import { TransferRestarts } from './restarts.js'
import { deviceFileRoutes } from './routes.js'
import { DeviceFilesService } from './service.js'
import { FileStore } from './storage.js'
import { DEFAULT_STREAMER_OPTIONS } from './streamers/types.js'

export interface DeviceFilesArea extends Area {
  service: DeviceFilesService
}

export function createDeviceFilesArea(
  ctx: AreaContext,
  settings: DeviceFilesSettings,
  deps: { jobs: JobsService; devices: DevicesPort },
): DeviceFilesArea {
  const maxUploadBytes = settings.uploadMaxMb * 1024 * 1024
  // On PostgreSQL every node reads what any node stored; SQLite serves one process from its data dir.
  const store: BlobStore =
    ctx.dbEngine === 'postgres'
      ? new PgBlobStore({
          db: ctx.db,
          nodeId: ctx.instanceId,
          liveNodeIds: async () => (await ctx.cluster.membership.live()).map((n) => n.id),
        })
      : new FileStore(settings.dir)
  const service = new DeviceFilesService({
    db: ctx.db,
    bus: ctx.bus,
    logger: ctx.logger,
    jobs: deps.jobs,
    devices: deps.devices,
    store,
    maxUploadBytes,
    extensions: settings.extensions,
    streamer: DEFAULT_STREAMER_OPTIONS,
    checkpoint: settings.checkpoint,
  })
  const restarts = new TransferRestarts({ jobs: deps.jobs, devices: deps.devices, files: service, store })
  return {
    name: 'device-files',
    service,
    routes: (app) =>
      deviceFileRoutes(app, service, restarts, {
        maxUploadBytes,
        idleTimeoutMs: settings.uploadIdleTimeoutMs,
      }),
    async start() {
      service.start()
      const removed = await service.sweep()
      if (removed > 0) ctx.logger.info({ count: removed }, 'removed stored device files no device refers to')
    },
    stop: () => service.stop(),
  }
}
