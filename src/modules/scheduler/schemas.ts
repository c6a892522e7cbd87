// TypeBox schemas for the task routes (OpenAPI, replies). The request bodies
// are composed in task-schema.ts from the task's fields and each action's
// payload schema; the service checks them (with the cron and time zone rules)
// so that one 400 names every bad field.

import { type Static, Type } from '@sinclair/typebox'
import { ListQuery } from '../../http/list.js'
import { ACTION_TYPES } from './actions/types.js'
import type { TaskWithLastRun } from './service.js'
import { OVERLAP_POLICIES, RUN_STATUSES, RUN_TRIGGERS, type TaskRun, type TaskRunWithName } from './types.js'

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])
const IsoTime = Type.String({ format: 'date-time' })
const AnyObject = Type.Object({}, { additionalProperties: true })

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })
export const RunIdParams = Type.Object({ runId: Type.String({ minLength: 1, maxLength: 100 }) })

export { CreateTaskBody, UpdateTaskBody } from './task-schema.js'

export const RunSchema = Type.Object({
  id: Type.String(),
  taskId: Type.String(),
  taskName: Type.Optional(Type.String()),
  status: Type.String({ enum: [...RUN_STATUSES] }),
  trigger: Type.String({ enum: [...RUN_TRIGGERS] }),
  attempt: Type.Integer(),
  scheduledFor: Nullable(IsoTime),
  startTime: Nullable(IsoTime),
  endTime: Nullable(IsoTime),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  jobId: Type.Union([Type.String(), Type.Null()]),
  logs: Type.Union([Type.String(), Type.Null()]),
  logsTruncated: Type.Optional(Type.Boolean()),
  createdAt: IsoTime,
})

export const TaskSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  schedule: Type.String(),
  timezone: Type.String(),
  action: Type.String({ enum: [...ACTION_TYPES] }),
  payload: AnyObject,
  enabled: Type.Boolean(),
  overlapPolicy: Type.String({ enum: [...OVERLAP_POLICIES] }),
  timeoutMs: Type.Union([Type.Integer(), Type.Null()]),
  maxRetries: Type.Integer(),
  retryDelayMs: Type.Integer(),
  misfireGraceMs: Type.Integer(),
  nextRun: Nullable(IsoTime),
  lastRun: Type.Union([RunSchema, Type.Null()]),
  ownerId: Type.String(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
})

export const HistoryQuery = Type.Composite([
  ListQuery,
  Type.Object({
    status: Type.Optional(Type.Array(Type.String(), { description: 'filter: one or more run statuses' })),
    taskId: Type.Optional(Type.String()),
  }),
])
export type HistoryQuery = Static<typeof HistoryQuery>

export const PreviewQuery = Type.Object({
  schedule: Type.Optional(Type.String()),
  timezone: Type.Optional(Type.String()),
  count: Type.Optional(Type.Integer({ description: 'how many times (1-100, default 5)' })),
  from: Type.Optional(Type.String({ description: 'start after this ISO time (default now)' })),
})

export const PreviewSchema = Type.Object({
  schedule: Type.String(),
  timezone: Type.String(),
  times: Type.Array(IsoTime),
})

export const DeletedSchema = Type.Object({ message: Type.String(), id: Type.String() })

/** History lists carry a log excerpt (the end, where failures show); GET /tasks/runs/{runId} has all of it. */
export const LIST_LOG_EXCERPT_CHARS = 2000

const iso = (d: Date | null) => d?.toISOString() ?? null

export function runView(run: TaskRun & { taskName?: string }, full = true) {
  let logs = run.logs
  let logsTruncated: boolean | undefined
  if (!full && logs && logs.length > LIST_LOG_EXCERPT_CHARS) {
    logs = `[... ${logs.length - LIST_LOG_EXCERPT_CHARS} characters, see /api/myntrix/tasks/runs/${run.id} ...]\n${logs.slice(-LIST_LOG_EXCERPT_CHARS)}`
    logsTruncated = true
  }
  return {
    id: run.id,
    taskId: run.taskId,
    ...(run.taskName !== undefined ? { taskName: run.taskName } : {}),
    status: run.status,
    trigger: run.trigger,
    attempt: run.attempt,
    scheduledFor: iso(run.scheduledFor),
    startTime: iso(run.startTime),
    endTime: iso(run.endTime),
    durationMs: run.startTime && run.endTime ? run.endTime.getTime() - run.startTime.getTime() : null,
    error: run.error,
    jobId: run.jobId,
    logs,
    ...(logsTruncated ? { logsTruncated } : {}),
    createdAt: run.createdAt.toISOString(),
  }
}

export function historyView(run: TaskRunWithName) {
  return runView(run, false)
}

export function taskView(task: TaskWithLastRun) {
  return {
    id: task.id,
    name: task.name,
    description: task.description,
    schedule: task.schedule,
    timezone: task.timezone,
    action: task.action,
    payload: task.payload,
    enabled: task.enabled,
    overlapPolicy: task.overlapPolicy,
    timeoutMs: task.timeoutMs,
    maxRetries: task.maxRetries,
    retryDelayMs: task.retryDelayMs,
    misfireGraceMs: task.misfireGraceMs,
    nextRun: iso(task.nextRunAt),
    lastRun: task.lastRun ? runView({ ...task.lastRun, taskName: task.name }, false) : null,
    ownerId: task.ownerId,
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
  }
}
