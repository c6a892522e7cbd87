// Tasks' server data: the list, one task, its run history, the schedule
// preview (the server's own cron code: the console never computes a fire
// time), and the actions. There is no tasks feed: a run is a `task.run` job,
// so the jobs feed saying one changed refreshes the tasks and their history.

import { keepPreviousData, queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { api, unwrap } from '../../api/client'
import { PAGE_SIZE, toPage } from '../../api/paging'
import type { Job, Task } from '../../api/types'
import { useJobsFeed } from '../resources/jobs'

export const tasksKey = ['tasks'] as const

/** One page of tasks. */
export function tasksQuery(offset = 0) {
  return queryOptions({
    queryKey: [...tasksKey, 'list', offset],
    queryFn: async () =>
      toPage(
        await api.GET('/api/myntrix/tasks', { params: { query: { offset, limit: PAGE_SIZE } } }),
        offset,
      ),
    placeholderData: keepPreviousData,
  })
}

export function useTasks(offset = 0) {
  return useQuery(tasksQuery(offset))
}

export function useTask(id: string) {
  return useQuery({
    queryKey: [...tasksKey, 'one', id],
    queryFn: async () => unwrap(await api.GET('/api/myntrix/tasks/{id}', { params: { path: { id } } })),
  })
}

export function useTaskHistory(id: string) {
  return useQuery({
    queryKey: [...tasksKey, 'history', id],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/myntrix/tasks/{id}/history', { params: { path: { id }, query: { limit: 50 } } }),
      ),
  })
}

export function useRun(runId: string | null) {
  return useQuery({
    queryKey: [...tasksKey, 'run', runId],
    enabled: runId !== null,
    queryFn: async () =>
      unwrap(await api.GET('/api/myntrix/tasks/runs/{runId}', { params: { path: { runId: runId! } } })),
  })
}

/** The value once it has stopped changing for `ms`: the preview asks the server once the typing pauses. */
export function useSettled<T>(value: T, ms = 300): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(timer)
  }, [value, ms])
  return settled
}

export function usePreview(schedule: string, timezone: string) {
  const s = useSettled(schedule.trim())
  const tz = useSettled(timezone.trim())
  return useQuery({
    queryKey: [...tasksKey, 'preview', s, tz],
    enabled: s !== '',
    retry: false,
    // The last answer stays while the next is asked for, so the list does not flicker as you type.
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/myntrix/tasks/preview', {
          params: { query: { schedule: s, ...(tz && { timezone: tz }), count: 5 } },
        }),
      ),
  })
}

function useStoreTask() {
  const client = useQueryClient()
  return (task: Task) => {
    client.setQueryData([...tasksKey, 'one', task.id], task)
    void client.invalidateQueries({ queryKey: [...tasksKey, 'list'] })
  }
}

export type TaskBody = Record<string, unknown>

export function useCreateTask() {
  const store = useStoreTask()
  return useMutation({
    mutationFn: async (body: TaskBody) =>
      unwrap(await api.POST('/api/myntrix/tasks', { body: body as never })) as Task,
    onSuccess: store,
  })
}

export function useUpdateTask() {
  const store = useStoreTask()
  return useMutation({
    mutationFn: async ({ id, body }: { id: string; body: TaskBody }) =>
      unwrap(
        await api.PUT('/api/myntrix/tasks/{id}', { params: { path: { id } }, body: body as never }),
      ) as Task,
    onSuccess: store,
  })
}

export function useRunNow() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.POST('/api/myntrix/tasks/{id}/run', { params: { path: { id } } })),
    onSuccess: (run) => void client.invalidateQueries({ queryKey: [...tasksKey, 'history', run.taskId] }),
  })
}

export function useDeleteTask() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE('/api/myntrix/tasks/{id}', { params: { path: { id } } })),
    onSuccess: (_r, id) => {
      client.removeQueries({ queryKey: [...tasksKey, 'one', id] })
      void client.invalidateQueries({ queryKey: [...tasksKey, 'list'] })
    },
  })
}

const REFRESH_MS = 500

/** Refreshes tasks and run history when a run's job changes (at most twice a second). */
export function useTaskRunsFeed() {
  const client = useQueryClient()
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null)
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current)
    },
    [],
  )
  return useJobsFeed((job: Job) => {
    if (job.type !== 'task.run' || timer.current) return
    timer.current = setTimeout(() => {
      timer.current = null
      void client.invalidateQueries({ queryKey: [...tasksKey, 'list'] })
      void client.invalidateQueries({ queryKey: [...tasksKey, 'one'] })
      void client.invalidateQueries({ queryKey: [...tasksKey, 'history'] })
    }, REFRESH_MS)
  })
}
