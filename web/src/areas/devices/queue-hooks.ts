// A device's queue: its items and hold, and the actions on them (add copies of
// a stored file, move an item up, cancel one, continue a held queue).

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import type { paths } from '../../api/schema'

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never
export type DeviceQueue = Json<paths['/api/myntrix/devices/{id}/queue']['get']['responses'][200]>
export type QueueItem = DeviceQueue['items'][number]
export type AddToQueue = Json<paths['/api/myntrix/devices/{id}/queue']['post']['requestBody']>

const queueKey = (id: string) => ['devices', 'queue', id] as const

/** A queue item still waiting: its pending job is not the device's transfer. */
export function isWaitingQueueItem(job: {
  status: string
  details?: Record<string, unknown> | null
}): boolean {
  return job.status === 'pending' && typeof job.details?.queueItemId === 'string'
}

export function useDeviceQueue(id: string) {
  return useQuery({
    queryKey: queueKey(id),
    queryFn: async () =>
      unwrap(await api.GET('/api/myntrix/devices/{id}/queue', { params: { path: { id } } })),
    // Items start and end on the server's own schedule.
    refetchInterval: 2000,
  })
}

function useQueueAction<T>(id: string, call: (input: T) => Promise<unknown>) {
  const client = useQueryClient()
  return useMutation({
    mutationFn: call,
    onSettled: () => void client.invalidateQueries({ queryKey: queueKey(id) }),
  })
}

export function useAddToQueue(id: string) {
  return useQueueAction(id, async (body: AddToQueue) =>
    unwrap(await api.POST('/api/myntrix/devices/{id}/queue', { params: { path: { id } }, body })),
  )
}

export function useMoveQueueItem(id: string) {
  return useQueueAction(id, async ({ itemId, position }: { itemId: string; position: number }) =>
    unwrap(
      await api.PATCH('/api/myntrix/devices/{id}/queue/{itemId}', {
        params: { path: { id, itemId } },
        body: { position },
      }),
    ),
  )
}

export function useCancelQueueItem(id: string) {
  return useQueueAction(id, async (itemId: string) =>
    unwrap(
      await api.DELETE('/api/myntrix/devices/{id}/queue/{itemId}', { params: { path: { id, itemId } } }),
    ),
  )
}

export function useContinueQueue(id: string) {
  return useQueueAction(id, async () =>
    unwrap(await api.POST('/api/myntrix/devices/{id}/queue/continue', { params: { path: { id } } })),
  )
}
