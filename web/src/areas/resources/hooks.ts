// Host history for the Resources charts: CPU, memory, disk and network come
// from the history endpoint for the chosen window, read again once per bucket
// so the newest bucket fills in.

import { useQuery } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { api, unwrap } from '../../api/client'

export const WINDOWS = ['15m', '1h', '24h', '7d'] as const
export type Window = (typeof WINDOWS)[number]

/** How often the chosen window is read again: its bucket size, but at least every 2 s and at most every minute. */
function refetchMs(stepMs: number | undefined): number {
  return Math.min(Math.max(stepMs ?? 5000, 2000), 60_000)
}

export function useHistory(window: Window) {
  const [step, setStep] = useState<number | undefined>(undefined)
  const query = useQuery({
    queryKey: ['resources', 'history', window],
    queryFn: async () =>
      unwrap(await api.GET('/api/myntrix/system-metrics', { params: { query: { window } } })),
    refetchInterval: refetchMs(step),
  })
  const stepMs = query.data?.history?.stepMs
  useEffect(() => setStep(stepMs), [stepMs])
  return query
}
