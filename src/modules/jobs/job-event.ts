// A job as the bus, the live feed and other areas' replies carry it (the
// `job.updated` payload): the API's view of it, times as ISO text, no log text.

import type { JobEventPayload } from '../../events/bus.js'
import { jobView } from './schemas.js'
import type { Job } from './types.js'

export function jobEventPayload(job: Job): JobEventPayload {
  return jobView(job)
}
