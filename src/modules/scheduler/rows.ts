// Tasks and runs between their domain shape and their stored row. Values come
// back in engine-specific shapes (text times and 0/1 booleans on SQLite, see
// src/db/values.ts); these are the only places that convert them.

import type { Selectable } from 'kysely'
import type { ScheduledTasksTable, TaskRunsTable } from '../../db/types.js'
import {
  fromDbBool,
  fromDbInt,
  fromDbJson,
  fromDbTime,
  toDbBool,
  toDbJson,
  toDbTime,
} from '../../db/values.js'
import type { ActionType } from './actions/types.js'
import type { OverlapPolicy, RunStatus, RunTrigger, Task, TaskRun } from './types.js'

export function toTask(r: Selectable<ScheduledTasksTable>): Task {
  return {
    id: r.id,
    name: r.name,
    description: r.description ?? null,
    schedule: r.schedule,
    timezone: r.timezone,
    action: r.action as ActionType,
    payload: (fromDbJson(r.payload) as Record<string, unknown> | null) ?? {},
    enabled: fromDbBool(r.enabled),
    overlapPolicy: r.overlapPolicy as OverlapPolicy,
    timeoutMs: r.timeoutMs === null || r.timeoutMs === undefined ? null : fromDbInt(r.timeoutMs),
    maxRetries: fromDbInt(r.maxRetries),
    retryDelayMs: fromDbInt(r.retryDelayMs),
    misfireGraceMs: fromDbInt(r.misfireGraceMs),
    nextRunAt: fromDbTime(r.nextRunAt),
    ownerId: r.ownerId,
    createdAt: fromDbTime(r.createdAt) as Date,
    updatedAt: fromDbTime(r.updatedAt) as Date,
  }
}

export function toRun(r: Selectable<TaskRunsTable>): TaskRun {
  return {
    id: r.id,
    taskId: r.taskId,
    scheduledFor: fromDbTime(r.scheduledFor),
    startTime: fromDbTime(r.startTime),
    endTime: fromDbTime(r.endTime),
    status: r.status as RunStatus,
    logs: r.logs ?? null,
    attempt: fromDbInt(r.attempt),
    trigger: r.trigger as RunTrigger,
    jobId: r.jobId ?? null,
    error: r.error ?? null,
    claimedBy: r.claimedBy ?? null,
    createdAt: fromDbTime(r.createdAt) as Date,
  }
}

export function taskRow(t: Task) {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    schedule: t.schedule,
    timezone: t.timezone,
    action: t.action,
    payload: toDbJson(t.payload),
    enabled: toDbBool(t.enabled),
    overlapPolicy: t.overlapPolicy,
    timeoutMs: t.timeoutMs,
    maxRetries: t.maxRetries,
    retryDelayMs: t.retryDelayMs,
    misfireGraceMs: t.misfireGraceMs,
    nextRunAt: toDbTime(t.nextRunAt),
    ownerId: t.ownerId,
    createdAt: toDbTime(t.createdAt),
    updatedAt: toDbTime(t.updatedAt),
  }
}

export function runRow(r: TaskRun) {
  return {
    id: r.id,
    taskId: r.taskId,
    scheduledFor: toDbTime(r.scheduledFor),
    startTime: toDbTime(r.startTime),
    endTime: toDbTime(r.endTime),
    status: r.status,
    logs: r.logs,
    attempt: r.attempt,
    trigger: r.trigger,
    jobId: r.jobId,
    error: r.error,
    claimedBy: r.claimedBy,
    createdAt: toDbTime(r.createdAt),
  }
}
