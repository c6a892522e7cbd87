// A job as the bus, the live feed and other areas' replies carry it (the
// `job.updated` payload): times as ISO text, no log text.

import type { JobEventPayload } from '../../events/bus.js'
import type { Job } from './types.js'

export function jobEventPayload(job: Job): JobEventPayload {
  return {
    id: job.id,
    name: job.name,
    type: job.type,
    status: job.status,
    progress: job.progress,
    ownerId: job.ownerId,
    details: job.details,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    error: job.error,
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  }
}
