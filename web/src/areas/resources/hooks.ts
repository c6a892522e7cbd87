// Host history for the Resources charts. CPU and memory come from the history
// endpoint for the chosen window, read again once per bucket so the newest
// bucket fills in. The endpoint keeps no disk or network series, so those two
// charts are drawn from the current sample each read carries, since the page
// was opened.

import { useQuery } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { api, unwrap } from '../../api/client'
import type { SystemMetrics } from '../../api/types'

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

export interface LiveSeries {
  t: number[]
  disk: number[]
  rx: number[]
  tx: number[]
}

const KEEP = 900

/** Disk % and network rates from each sample the history reads bring. */
export function useLiveSeries(sample: SystemMetrics | undefined): LiveSeries {
  const series = useRef<LiveSeries>({ t: [], disk: [], rx: [], tx: [] })
  const [snapshot, setSnapshot] = useState<LiveSeries>(series.current)
  useEffect(() => {
    if (!sample) return
    const s = series.current
    const t = new Date(sample.timestamp).getTime() / 1000
    if (s.t.length && s.t[s.t.length - 1] >= t) return
    s.t.push(t)
    s.disk.push(sample.disk?.percent ?? Number.NaN)
    s.rx.push(sample.network.rxBytesPerSec)
    s.tx.push(sample.network.txBytesPerSec)
    if (s.t.length > KEEP) for (const k of ['t', 'disk', 'rx', 'tx'] as const) s[k].shift()
    setSnapshot({ t: [...s.t], disk: [...s.disk], rx: [...s.rx], tx: [...s.tx] })
  }, [sample])
  return snapshot
}
