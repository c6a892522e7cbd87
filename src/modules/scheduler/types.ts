// The scheduler's domain types. Status vocabularies are declared once here.

import type { ActionType } from './actions/types.js'

export const OVERLAP_POLICIES = ['skip', 'allow', 'queue'] as const
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number]

export const RUN_STATUSES = ['pending', 'running', 'success', 'failed', 'skipped', 'cancelled'] as const
export type RunStatus = (typeof RUN_STATUSES)[number]
export const FINISHED_RUN_STATUSES: readonly RunStatus[] = ['success', 'failed', 'skipped', 'cancelled']

export const RUN_TRIGGERS = ['schedule', 'manual', 'retry'] as const
export type RunTrigger = (typeof RUN_TRIGGERS)[number]

export interface Task {
  id: string
  name: string
  description: string | null
  schedule: string
  timezone: string
  action: ActionType
  payload: Record<string, unknown>
  enabled: boolean
  overlapPolicy: OverlapPolicy
  timeoutMs: number | null
  maxRetries: number
  retryDelayMs: number
  misfireGraceMs: number
  /** The next occurrence not yet claimed; null when disabled. */
  nextRunAt: Date | null
  ownerId: string
  createdAt: Date
  updatedAt: Date
}

export interface TaskRun {
  id: string
  taskId: string
  /** The occurrence this run belongs to; null for a manual run. */
  scheduledFor: Date | null
  startTime: Date | null
  endTime: Date | null
  status: RunStatus
  logs: string | null
  attempt: number
  trigger: RunTrigger
  jobId: string | null
  /** Why it failed, was skipped or cancelled. */
  error: string | null
  /** The scheduler process that claimed it. */
  claimedBy: string | null
  createdAt: Date
}

export interface TaskRunWithName extends TaskRun {
  taskName: string
  ownerId: string
}

/** Fields a client sets on create (defaults applied) and on update (all optional). */
export interface TaskInput {
  name: string
  description?: string | null
  schedule: string
  timezone?: string
  action: string | ({ type: string } & Record<string, unknown>)
  payload?: Record<string, unknown>
  enabled?: boolean
  overlapPolicy?: OverlapPolicy
  timeoutMs?: number | null
  maxRetries?: number
  retryDelayMs?: number
  misfireGraceMs?: number
}

/** The jobs-ledger type of a run's job. */
export const RUN_JOB_TYPE = 'task.run'
