// Devices' server data: the list, one device, its files and telemetry, and the
// actions. Status and last seen move with the scene feed (api/scene-feed.ts);
// a device page's own telemetry feed (useDeviceFeed) keeps its readings, chart,
// wire log and transfer current.

import {
  keepPreviousData,
  type QueryClient,
  queryOptions,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query'
import { useRef, useState } from 'react'
import { api, unwrap } from '../../api/client'
import { type Envelope, useLiveFeed } from '../../api/live'
import { mapPage, PAGE_SIZE, type Paged, toPage } from '../../api/paging'
import type { Device, Job } from '../../api/types'
import { laterJob, storeJob } from '../resources/jobs'
import { isWaitingQueueItem } from './queue-hooks'
import type { CreateDevice, DeviceFile, TelemetrySample, UpdateDevice, UploadResult } from './types'

export const devicesKey = ['devices'] as const
const KEEP_SAMPLES = 600
const KEEP_LOG_LINES = 1000

/** One page of devices (the list page), or up to `limit` of them (a form's choice of device). */
export function devicesQuery(offset = 0, limit = PAGE_SIZE) {
  return queryOptions({
    queryKey: [...devicesKey, 'list', offset, limit],
    queryFn: async () =>
      toPage(await api.GET('/api/myntrix/devices', { params: { query: { offset, limit } } }), offset),
    placeholderData: keepPreviousData,
  })
}

export function useDevices(offset = 0, limit = PAGE_SIZE) {
  return useQuery(devicesQuery(offset, limit))
}

export function useDevice(id: string) {
  return useQuery({
    queryKey: [...devicesKey, 'one', id],
    queryFn: async () => unwrap(await api.GET('/api/myntrix/devices/{id}', { params: { path: { id } } })),
  })
}

function storeDevice(client: QueryClient, device: Device): void {
  client.setQueryData([...devicesKey, 'one', device.id], device)
  client.setQueriesData<Paged<Device>>({ queryKey: [...devicesKey, 'list'] }, (page) =>
    mapPage(page, (d) => (d.id === device.id ? device : d)),
  )
}

function patchDevice(client: QueryClient, id: string, patch: Partial<Device>): void {
  client.setQueryData<Device>([...devicesKey, 'one', id], (d) => d && { ...d, ...patch })
  client.setQueriesData<Paged<Device>>({ queryKey: [...devicesKey, 'list'] }, (page) =>
    mapPage(page, (d) => (d.id === id ? { ...d, ...patch } : d)),
  )
}

export function useCreateDevice() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (body: CreateDevice) => unwrap(await api.POST('/api/myntrix/devices', { body })),
    onSuccess: (device) => {
      client.setQueryData([...devicesKey, 'one', device.id], device)
      void client.invalidateQueries({ queryKey: [...devicesKey, 'list'] })
    },
  })
}

export function useUpdateDevice(id: string) {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (body: UpdateDevice) =>
      unwrap(await api.PUT('/api/myntrix/devices/{id}', { params: { path: { id } }, body })),
    onSuccess: (device) => storeDevice(client, device),
  })
}

export function useDeleteDevice() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE('/api/myntrix/devices/{id}', { params: { path: { id } } })),
    onSuccess: (_r, id) => {
      client.removeQueries({ queryKey: [...devicesKey, 'one', id] })
      void client.invalidateQueries({ queryKey: [...devicesKey, 'list'] })
    },
  })
}

export function useConnection() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async ({ id, connect }: { id: string; connect: boolean }) => {
      const params = { params: { path: { id } } }
      return connect
        ? unwrap(await api.POST('/api/myntrix/devices/{id}/connect', params))
        : unwrap(await api.POST('/api/myntrix/devices/{id}/disconnect', params))
    },
    onSuccess: (device) => storeDevice(client, device),
    // A failed connect leaves the device in error with its reason: show that too.
    onError: (_e, { id }) => void client.invalidateQueries({ queryKey: [...devicesKey, 'one', id] }),
  })
}

export function useCommand(id: string) {
  return useMutation({
    mutationFn: async (command: string) =>
      unwrap(
        await api.POST('/api/myntrix/devices/{id}/command', { params: { path: { id } }, body: { command } }),
      ),
  })
}

export function useDeviceFiles(id: string) {
  return useQuery({
    queryKey: [...devicesKey, 'files', id],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/myntrix/devices/{id}/files', { params: { path: { id }, query: { limit: 50 } } }),
      ),
  })
}

/** The device's transfer that is still going, if any (the page may be opened mid-transfer). */
export function useActiveTransfer(id: string) {
  return useQuery({
    queryKey: [...devicesKey, 'transfer', id],
    queryFn: async () => {
      const jobs = unwrap(
        await api.GET('/api/myntrix/jobs', {
          params: { query: { type: 'device-transfer', status: ['pending', 'running'], limit: 100 } },
        }),
      )
      return jobs.find((j) => j.details?.deviceId === id && !isWaitingQueueItem(j)) ?? null
    },
  })
}

export function useUpload(id: string) {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (file: File) => {
      const form = new FormData()
      form.append('file', file, file.name)
      const result = await api.POST('/api/myntrix/devices/{id}/upload', {
        params: { path: { id } },
        body: form as never,
        // The browser writes the multipart boundary itself.
        bodySerializer: (body: unknown) => body as FormData,
      })
      return unwrap(result) as UploadResult
    },
    onSuccess: (result) => {
      void client.invalidateQueries({ queryKey: [...devicesKey, 'files', id] })
      if (result.job) {
        const job = result.job as unknown as Job
        client.setQueryData<Job | null>([...devicesKey, 'transfer', id], (old) => laterJob(old, job))
        storeJob(client, job)
      }
    },
  })
}

export function useSendFile(id: string) {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (file: DeviceFile) =>
      unwrap(
        await api.POST('/api/myntrix/devices/{id}/files/{fileId}/send', {
          params: { path: { id, fileId: file.id } },
        }),
      ),
    onSuccess: (result) => {
      const job = result.job as unknown as Job
      client.setQueryData<Job | null>([...devicesKey, 'transfer', id], (old) => laterJob(old, job))
      storeJob(client, job)
    },
  })
}

export function useTelemetry(id: string) {
  return useQuery({
    queryKey: [...devicesKey, 'telemetry', id],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/myntrix/devices/{id}/telemetry', {
          params: { path: { id }, query: { limit: 300 } },
        }),
      ),
    // The device's feed appends to it; a refetch would only race the feed.
    staleTime: Number.POSITIVE_INFINITY,
  })
}

export interface WireLine {
  n: number
  ts: string
  direction: string
  text: string
}

/**
 * The device's telemetry feed (/ws/myntrix/telemetry/{id}) while mounted:
 * status into the device, readings into its telemetry samples, transfer jobs
 * into the jobs cache; the wire log is this page's own (the server keeps none).
 */
export function useDeviceFeed(id: string) {
  const client = useQueryClient()
  const [log, setLog] = useState<WireLine[]>([])
  const counter = useRef(0)
  const state = useLiveFeed(`/ws/myntrix/telemetry/${encodeURIComponent(id)}`, (m: Envelope) => {
    if (m.type === 'status') {
      const s = m.payload as { status: Device['status']; lastSeen: string | null }
      patchDevice(client, id, s)
    } else if (m.type === 'telemetry') {
      const sample: TelemetrySample = { ts: m.ts, readings: m.payload as Record<string, unknown> }
      client.setQueryData<TelemetrySample[]>([...devicesKey, 'telemetry', id], (samples) => {
        const list = samples ?? []
        const last = list[list.length - 1]
        // The first message after a (re)connect repeats the latest sample.
        if (last && last.ts === sample.ts) return list
        const next = list.length >= KEEP_SAMPLES ? list.slice(list.length - KEEP_SAMPLES + 1) : list.slice()
        next.push(sample)
        return next
      })
      patchDevice(client, id, { lastSeen: m.ts })
    } else if (m.type === 'log') {
      const line = {
        n: counter.current++,
        ts: m.ts,
        direction: String(m.direction ?? 'in'),
        text: String(m.payload),
      }
      setLog((prev) => {
        const next =
          prev.length >= KEEP_LOG_LINES ? prev.slice(prev.length - KEEP_LOG_LINES + 1) : prev.slice()
        next.push(line)
        return next
      })
    } else if (m.type === 'job') {
      const job = m.payload as Job
      storeJob(client, job)
      // A queue item that only waits is not the device's transfer (yet).
      if (!isWaitingQueueItem(job)) {
        client.setQueryData<Job | null>([...devicesKey, 'transfer', id], (old) => laterJob(old, job))
      }
    }
  })
  return { state, log, clearLog: () => setLog([]) }
}
