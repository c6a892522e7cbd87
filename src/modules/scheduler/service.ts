// The task rules: validation, ownership, next-time bookkeeping; the engine
// does the firing. Never imports fastify.

import type { Static } from '@sinclair/typebox'
import { assertRole, hasRole, ownerScope, type Principal, visibleOr404 } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import {
  ConflictError,
  collectErrors,
  type FieldError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from '../../errors.js'
import type { EventBus } from '../../events/bus.js'
import { nameProblem } from '../../names.js'
import { parseQueryTime } from '../../time.js'
import { schemaErrors } from '../../validation.js'
import { isObject } from './actions/check.js'
import {
  type ActionRegistry,
  type ActionType,
  actionErrors,
  roleNeed,
  validateAction,
} from './actions/index.js'
import { nextAfter, parseSchedule, preview, validateTimezone } from './cron.js'
import type { SchedulerEngine } from './engine.js'
import type { SchedulerRepository } from './repository.js'
import { DEFAULTS, LIMITS, TaskSettingsSchema } from './task-schema.js'
import {
  FINISHED_RUN_STATUSES,
  type OverlapPolicy,
  RUN_STATUSES,
  type Task,
  type TaskRun,
  type TaskRunWithName,
} from './types.js'

export { DEFAULTS, LIMITS } from './task-schema.js'

export interface TaskWithLastRun extends Task {
  lastRun: TaskRun | null
}

interface ServiceOptions {
  repo: SchedulerRepository
  engine: SchedulerEngine
  registry: ActionRegistry
  bus: EventBus
  /** True when agents run as the server's own OS user: then only admins' tasks may start them. */
  childrenShareServerUser?: boolean
  now?: () => Date
}

type Body = Record<string, unknown>

export class SchedulerService {
  private readonly repo: SchedulerRepository
  private readonly engine: SchedulerEngine
  private readonly registry: ActionRegistry
  private readonly bus: EventBus
  private readonly now: () => Date
  private readonly childrenShareServerUser: boolean

  constructor(o: ServiceOptions) {
    this.repo = o.repo
    this.engine = o.engine
    this.registry = o.registry
    this.bus = o.bus
    this.now = o.now ?? (() => new Date())
    this.childrenShareServerUser = o.childrenShareServerUser ?? false
  }

  async create(principal: Principal, body: Body): Promise<TaskWithLastRun> {
    assertRole(principal, 'operator', 'create tasks')
    const fields = this.validate(body, undefined)
    this.assertMayUse(principal, fields.action, fields.payload)
    const at = this.now()
    const task: Task = {
      id: newId(),
      ...fields,
      nextRunAt: fields.enabled ? nextAfter(fields.schedule, fields.timezone, at) : null,
      ownerId: principal.id,
      createdAt: at,
      updatedAt: at,
    }
    await this.repo.insertTask(task)
    this.changed(task.id)
    return { ...task, lastRun: null }
  }

  async list(principal: Principal, page: { limit: number; offset: number }) {
    const { items, total } = await this.repo.listTasks({ ownerId: ownerScope(principal), ...page })
    const last = await this.repo.latestRuns(items.map((t) => t.id))
    return { items: items.map((t) => ({ ...t, lastRun: last.get(t.id) ?? null })), total }
  }

  async get(principal: Principal, id: string): Promise<TaskWithLastRun> {
    const task = visibleOr404(principal, await this.repo.getTask(id), 'task', id)
    const last = await this.repo.latestRuns([id])
    return { ...task, lastRun: last.get(id) ?? null }
  }

  /** Partial update: absent fields keep their value. A change to when or what cancels claimed runs. */
  async update(principal: Principal, id: string, body: Body): Promise<TaskWithLastRun> {
    assertRole(principal, 'operator', 'change tasks')
    const current = visibleOr404(principal, await this.repo.getTask(id), 'task', id)
    const fields = this.validate(body, current)
    this.assertMayUse(principal, fields.action, fields.payload)
    const at = this.now()
    const timing = ['schedule', 'timezone', 'enabled'] as const
    const retimed = timing.some((k) => fields[k] !== current[k])
    const redefined =
      retimed ||
      fields.action !== current.action ||
      JSON.stringify(fields.payload) !== JSON.stringify(current.payload) ||
      fields.overlapPolicy !== current.overlapPolicy
    const task: Task = {
      ...current,
      ...fields,
      nextRunAt: !fields.enabled
        ? null
        : retimed || current.nextRunAt === null
          ? nextAfter(fields.schedule, fields.timezone, at)
          : current.nextRunAt,
      updatedAt: at,
    }
    if (!(await this.repo.updateTask(task))) throw new NotFoundError('task', id)
    if (redefined) {
      this.engine.forgetTask(id, { abortRunning: false, reason: 'the task was changed' })
      await this.repo.cancelPending(id, 'cancelled: the task was changed before the run started', at)
    }
    this.changed(id)
    return this.get(principal, id)
  }

  async remove(principal: Principal, id: string): Promise<{ message: string; id: string }> {
    assertRole(principal, 'operator', 'delete tasks')
    const task = visibleOr404(principal, await this.repo.getTask(id), 'task', id)
    this.engine.forgetTask(id, { abortRunning: true, reason: 'the task was deleted' })
    await this.repo.deleteTask(id)
    this.changed(id)
    return { message: `task ${task.name} deleted`, id }
  }

  /** Runs now, whether or not the task is enabled; returns the created run. */
  async runNow(principal: Principal, id: string): Promise<TaskRunWithName> {
    assertRole(principal, 'operator', 'run tasks')
    const task = visibleOr404(principal, await this.repo.getTask(id), 'task', id)
    this.assertMayUse(principal, task.action, task.payload)
    const run = await this.engine.runNow(task)
    return { ...run, taskName: task.name, ownerId: task.ownerId }
  }

  async history(
    principal: Principal,
    q: { taskId?: string; status?: string[]; limit: number; offset: number },
  ): Promise<{ items: TaskRunWithName[]; total: number }> {
    if (q.taskId) visibleOr404(principal, await this.repo.getTask(q.taskId), 'task', q.taskId)
    const statuses = (q.status ?? []).flatMap((s) => s.split(',')).filter(Boolean)
    const bad = statuses.filter((s) => !RUN_STATUSES.includes(s as never))
    if (bad.length > 0) {
      throw invalid([
        { path: 'query.status', message: `must be one of ${RUN_STATUSES.join(', ')}, got "${bad[0]}"` },
      ])
    }
    return this.repo.listRuns({ ownerId: ownerScope(principal), taskId: q.taskId, statuses, ...page(q) })
  }

  /** A task's name and owner, for other areas naming it (notifications); undefined when it is gone. */
  async taskFacts(id: string): Promise<{ name: string; ownerId: string } | undefined> {
    const task = await this.repo.getTask(id)
    return task ? { name: task.name, ownerId: task.ownerId } : undefined
  }

  /** A run as other areas report it (a failed run's notification carries its log); undefined when gone. */
  async runFacts(id: string): Promise<TaskRun | undefined> {
    return this.repo.getRun(id)
  }

  async getRun(principal: Principal, runId: string): Promise<TaskRunWithName> {
    return visibleOr404(principal, await this.repo.getRun(runId), 'run', runId)
  }

  async cancelRun(principal: Principal, runId: string): Promise<TaskRunWithName> {
    assertRole(principal, 'operator', 'cancel runs')
    const run = visibleOr404(principal, await this.repo.getRun(runId), 'run', runId)
    if (FINISHED_RUN_STATUSES.includes(run.status))
      throw new ConflictError(`run ${runId} is already ${run.status}`)
    const ok = await this.engine.cancelRun(runId, `cancelled by ${principal.username}`)
    const after = (await this.repo.getRun(runId)) ?? run
    if (!ok && !FINISHED_RUN_STATUSES.includes(after.status)) {
      throw new ConflictError(`run ${runId} could not be cancelled (it is ${after.status})`)
    }
    return after
  }

  preview(q: { schedule?: unknown; timezone?: unknown; count?: number; from?: string }): {
    schedule: string
    timezone: string
    times: string[]
  } {
    const errors: FieldError[] = []
    const schedule = collectErrors(errors, 'query.schedule', () =>
      parseSchedule(q.schedule, 'query.schedule'),
    )
    let timezone: string | undefined = DEFAULTS.timezone
    if (q.timezone !== undefined && q.timezone !== '') {
      timezone = collectErrors(errors, 'query.timezone', () => validateTimezone(q.timezone, 'query.timezone'))
    }
    const count = q.count ?? 5
    if (!Number.isInteger(count) || count < 1 || count > LIMITS.previewCountMax) {
      errors.push({
        path: 'query.count',
        message: `must be a whole number from 1 to ${LIMITS.previewCountMax}`,
      })
    }
    let from = this.now()
    if (q.from !== undefined) {
      try {
        from = parseQueryTime(q.from, 'query.from')
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
        errors.push(...(err.errors ?? []))
      }
    }
    if (errors.length > 0 || !schedule || timezone === undefined) throw invalid(errors)
    return {
      schedule: schedule.expression,
      timezone,
      times: preview(schedule, timezone, count, from).map((d) => d.toISOString()),
    }
  }

  /**
   * Each action says what role its payload needs (a script runs programs on
   * the server; an agent started as the server's own OS user could read its
   * secrets): the needs that hold everywhere are named first.
   */
  private assertMayUse(principal: Principal, action: ActionType, payload: unknown): void {
    if (hasRole(principal, 'admin')) return
    const need =
      roleNeed(this.registry, action, payload, { childrenShareServerUser: false }) ??
      (this.childrenShareServerUser
        ? roleNeed(this.registry, action, payload, { childrenShareServerUser: true })
        : null)
    if (need && !hasRole(principal, need.role)) {
      throw new ForbiddenError(
        `only an admin may create, change or run tasks that ${need.what} (also as workflow steps)${need.detail ? `: ${need.detail}` : ''}`,
      )
    }
  }

  private changed(taskId: string): void {
    this.bus.emit('task.changed', { taskId })
    this.engine.changed()
  }

  /** Validates a create body (current undefined) or an update body merged over current. */
  private validate(body: Body, current: Task | undefined) {
    const errors: FieldError[] = []
    const has = (k: string) => body[k] !== undefined
    const pick = <T>(k: string, fallback: T): unknown =>
      has(k) ? body[k] : current ? current[k as keyof Task] : fallback

    // `action` may be an object {type, ...params}: normalise to action + payload.
    let action: unknown = pick('action', undefined)
    let payload: unknown = pick('payload', undefined)
    if (isObject(body.action)) {
      const { type, ...params } = body.action
      action = type
      payload = { ...(isObject(body.payload) ? body.payload : {}), ...params }
    } else if (has('action') && !has('payload') && current && body.action !== current.action) {
      payload = {}
    }
    if (payload === undefined || payload === null) payload = {}

    const settings = {
      name: pick('name', undefined),
      description: pick('description', null),
      enabled: pick('enabled', true),
      overlapPolicy: pick('overlapPolicy', DEFAULTS.overlapPolicy),
      timeoutMs: pick('timeoutMs', null),
      maxRetries: pick('maxRetries', DEFAULTS.maxRetries),
      retryDelayMs: pick('retryDelayMs', DEFAULTS.retryDelayMs),
      misfireGraceMs: pick('misfireGraceMs', DEFAULTS.misfireGraceMs),
    }
    errors.push(...schemaErrors(TaskSettingsSchema, settings))
    const { name } = settings
    if (typeof name === 'string' && name.length <= LIMITS.nameMaxLength) {
      const problem = nameProblem(name)
      if (problem) errors.push({ path: 'name', message: problem })
    }
    const schedule = collectErrors(
      errors,
      'schedule',
      () => parseSchedule(pick('schedule', undefined)).expression,
    )
    const timezone = collectErrors(errors, 'timezone', () =>
      validateTimezone(pick('timezone', DEFAULTS.timezone)),
    )
    errors.push(...actionErrors(this.registry, action, payload))
    // Every value below was checked: any error at all refuses the whole request.
    if (errors.length > 0 || schedule === undefined || timezone === undefined) throw invalid(errors)
    const valid = settings as Static<typeof TaskSettingsSchema>
    return {
      name: valid.name.trim(),
      description: valid.description,
      schedule,
      timezone,
      action: action as ActionType,
      payload: validateAction(this.registry, action, payload) as Record<string, unknown>,
      enabled: valid.enabled,
      overlapPolicy: valid.overlapPolicy as OverlapPolicy,
      timeoutMs: valid.timeoutMs,
      maxRetries: valid.maxRetries,
      retryDelayMs: valid.retryDelayMs,
      misfireGraceMs: valid.misfireGraceMs,
    }
  }
}

function invalid(errors: FieldError[]): ValidationError {
  const first = errors[0]
  return new ValidationError(first ? `${first.path}: ${first.message}` : 'invalid request', errors)
}

function page(q: { limit: number; offset: number }) {
  return { limit: q.limit, offset: q.offset }
}
