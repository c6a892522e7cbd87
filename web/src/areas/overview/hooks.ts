// Overview data besides the scene: tasks and the latest failures. The scene
// feed's job counts say when something finished, so these refetch when the
// counts move instead of on a timer.

import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect } from 'react'
import { api, totalOf, unwrap } from '../../api/client'
import type { Scene } from '../../api/types'

export const overviewKey = ['overview'] as const

export function useTaskCounts() {
  return useQuery({
    queryKey: [...overviewKey, 'tasks'],
    queryFn: async () => {
      const result = await api.GET('/api/myntrix/tasks', { params: { query: { limit: 1000 } } })
      const tasks = unwrap(result)
      const enabled = tasks.filter((t) => t.enabled).length
      return { total: totalOf(result.response) ?? tasks.length, enabled, disabled: tasks.length - enabled }
    },
  })
}

export function useFailedJobs() {
  return useQuery({
    queryKey: [...overviewKey, 'failed-jobs'],
    queryFn: async () =>
      unwrap(await api.GET('/api/myntrix/jobs', { params: { query: { status: ['failed'], limit: 5 } } })),
  })
}

export function useFailedRuns() {
  return useQuery({
    queryKey: [...overviewKey, 'failed-runs'],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/myntrix/tasks/history', { params: { query: { status: ['failed'], limit: 5 } } }),
      ),
  })
}

/** Refetch the overview's lists when the scene's job counts change (a run or job finished). */
export function useRefreshOnJobCounts(scene: Scene | undefined): void {
  const client = useQueryClient()
  const jobs = scene ? JSON.stringify(scene.summary.jobs) : null
  useEffect(() => {
    if (jobs !== null) void client.invalidateQueries({ queryKey: overviewKey })
  }, [jobs, client])
}

/** The host's last 15 minutes at one point a second, to draw before the live points arrive. */
export function useHostHistory() {
  return useQuery({
    queryKey: [...overviewKey, 'host-history'],
    queryFn: async () => {
      const metrics = unwrap(
        await api.GET('/api/myntrix/system-metrics', { params: { query: { window: '15m', step: '1s' } } }),
      )
      return metrics.history ?? null
    },
    // Fetched once per visit; the scene feed carries the host from then on.
    staleTime: Number.POSITIVE_INFINITY,
  })
}
