import { onPrincipalChange, principalOf } from '../../http/auth-hook.js'
import { listReply, pageOf } from '../../http/list.js'
import { ClientQueue } from '../../realtime/client-queue.js'
import { envelope } from '../../realtime/envelope.js'
import type { AppInstance } from '../area.js'
import {
  JobIdParams,
  JobListQuery,
  JobSchema,
  JobStatsQuery,
  JobStatsSchema,
  JobWithLogsSchema,
  jobView,
} from './schemas.js'
import type { JobsService } from './service.js'

export function jobRoutes(app: AppInstance, service: JobsService): void {
  app.get(
    '/api/myntrix/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Active (pending, running) and recently finished jobs, or filtered by status, type, since',
        querystring: JobListQuery,
        response: { 200: { type: 'array', items: JobSchema } },
      },
    },
    async (request, reply) => {
      const { status, type, since } = request.query
      const { items, total } = await service.listFor(principalOf(request), {
        status,
        type,
        since,
        ...pageOf(request.query),
      })
      return listReply(
        reply,
        items.map((j) => jobView(j)),
        total,
      )
    },
  )

  app.get(
    '/api/myntrix/jobs/stats',
    {
      schema: {
        tags: ['jobs'],
        summary:
          'Counts by outcome and total run time of the jobs created in [from, to), grouped by device, type, user or day',
        querystring: JobStatsQuery,
        response: { 200: JobStatsSchema },
      },
    },
    async (request) => service.statsFor(principalOf(request), request.query),
  )

  app.get(
    '/api/myntrix/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'One job, with its logs',
        params: JobIdParams,
        response: { 200: JobWithLogsSchema },
      },
    },
    async (request) => {
      const job = await service.getFor(principalOf(request), request.params.id)
      return { ...jobView(job), logs: job.logs }
    },
  )

  app.post(
    '/api/myntrix/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Ask the owning area to stop the job; 409 when it has already finished',
        params: JobIdParams,
        response: { 200: JobSchema },
      },
    },
    async (request) => jobView(await service.cancelFor(principalOf(request), request.params.id)),
  )

  // Live feed: a `snapshot` of the active jobs first, then one `job` message
  // per change. Behind a slow client only the latest state of each job is kept.
  app.get(
    '/ws/myntrix/jobs',
    { websocket: true, schema: { tags: ['jobs'], hide: true } },
    (socket, request) => {
      // The principal is kept current by the auth hook's re-check: filtering
      // each change with it follows a role change while the socket is open.
      const principal = principalOf(request)
      const queue = new ClientQueue(socket, {
        conflate: (m) => (m.type === 'job' ? `job:${String(m.jobId)}` : null),
      })
      // Changes that happen while the snapshot is read are held back and sent after it, so a
      // client never sees a change before the snapshot it applies to.
      let held: ReturnType<typeof envelope>[] | null = []
      const off = service.onJobUpdated((job) => {
        if (!service.canSee(principal, job)) return
        const message = envelope('job', job, { jobId: job.id })
        if (held) held.push(message)
        else queue.push(message)
      })
      const sendSnapshot = () =>
        service
          .listFor(principal, { status: ['pending', 'running'], limit: 1000, offset: 0 })
          .then(({ items }) => {
            queue.push(envelope('snapshot', { jobs: items.map((j) => jobView(j)) }))
            for (const message of held ?? []) queue.push(message)
            held = null
          })
          .catch(() => socket.close(1011, 'could not read jobs'))
      // The caller's role changed (e.g. an admin demoted): a new snapshot
      // replaces what the client holds with what it may now see.
      const offChange = onPrincipalChange(request, () => {
        held ??= []
        void sendSnapshot()
      })
      socket.on('close', () => {
        off()
        offChange()
        queue.close()
      })
      void sendSnapshot()
    },
  )
}
