// The jobs ledger in the query cache: filtered lists, one job with its logs,
// and the actions. A changed job (from an action's answer, the jobs feed or a
// device's telemetry feed) is written into every cached list that holds it, so
// progress bars move without refetching; a list that should now hold a job it
// does not know is refetched.

import { type QueryClient, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { type Envelope, useLiveFeed } from '../../api/live'
import type { Job } from '../../api/types'

export const jobsKey = ['jobs'] as const
const ACTIVE = new Set(['pending', 'running'])

export interface JobFilter {
  status: string
  type: string
}

export function useJobs(filter: JobFilter) {
  return useQuery({
    queryKey: [...jobsKey, 'list', filter],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/myntrix/jobs', {
          params: {
            query: {
              limit: 200,
              ...(filter.status && { status: [filter.status] }),
              ...(filter.type && { type: filter.type }),
            },
          },
        }),
      ),
  })
}

export function useJob(id: string | null) {
  return useQuery({
    queryKey: [...jobsKey, 'one', id],
    enabled: id !== null,
    queryFn: async () => unwrap(await api.GET('/api/myntrix/jobs/{id}', { params: { path: { id: id! } } })),
  })
}

function matches(job: Job, filter: JobFilter): boolean {
  return (!filter.status || job.status === filter.status) && (!filter.type || job.type === filter.type)
}

/**
 * The later of two states of one job. An action's answer and the feeds race: a quick transfer's
 * `completed` can arrive on the feed before the upload's own answer, which still says `running`.
 */
export function laterJob<T extends Job>(old: T | null | undefined, next: T): T {
  if (!old || old.id !== next.id) return next
  if (!ACTIVE.has(old.status) && ACTIVE.has(next.status)) return old
  return old.updatedAt > next.updatedAt ? old : next
}

/** Folds one job's new state into the cache. */
export function storeJob(client: QueryClient, job: Job): void {
  const key = [...jobsKey, 'one', job.id]
  const before = client.getQueryData<Job>(key)
  if (before && laterJob(before, job) === before && before !== job) return
  client.setQueryData<Job & { logs?: string | null }>(key, (old) =>
    old ? { ...old, ...job } : (job as Job & { logs: null }),
  )
  // Changes carry no logs; a job's page reads them again when the job ends.
  if (before && before.status !== job.status && !ACTIVE.has(job.status)) {
    void client.invalidateQueries({ queryKey: key, exact: true })
  }
  for (const query of client.getQueryCache().findAll({ queryKey: [...jobsKey, 'list'] })) {
    const filter = query.queryKey[2] as JobFilter
    const list = query.state.data as Job[] | undefined
    if (!list) continue
    const known = list.some((j) => j.id === job.id)
    if (known)
      client.setQueryData<Job[]>(
        query.queryKey,
        list.map((j) => (j.id === job.id ? job : j)),
      )
    else if (matches(job, filter)) void client.invalidateQueries({ queryKey: query.queryKey, exact: true })
  }
}

export type JobAction = 'cancel' | 'pause' | 'resume'

export function useJobAction() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async ({ id, action }: { id: string; action: JobAction }) => {
      const params = { params: { path: { id } } }
      if (action === 'cancel') return unwrap(await api.POST('/api/myntrix/jobs/{id}/cancel', params))
      if (action === 'pause') return unwrap(await api.POST('/api/myntrix/jobs/{id}/pause', params)) as Job
      return unwrap(await api.POST('/api/myntrix/jobs/{id}/resume', params)) as Job
    },
    onSuccess: (job) => storeJob(client, job),
  })
}

/** The jobs feed (/ws/myntrix/jobs) while mounted: every change lands in the cache; `onJob` sees each too. */
export function useJobsFeed(onJob?: (job: Job) => void) {
  const client = useQueryClient()
  return useLiveFeed(
    '/ws/myntrix/jobs',
    (m: Envelope) => {
      if (m.type === 'snapshot') {
        for (const job of (m.payload as { jobs: Job[] }).jobs) storeJob(client, job)
      } else if (m.type === 'job') {
        const job = m.payload as Job
        storeJob(client, job)
        onJob?.(job)
      }
    },
    // The snapshot holds only active jobs: after a reconnect, what finished meanwhile is read again.
    () => void client.invalidateQueries({ queryKey: [...jobsKey, 'list'] }),
  )
}
