// Turns what the areas already say on the bus (agent.status, agent.exited,
// task.run, job.updated, device.status) into notification events. Bus
// listeners only queue work: names and run logs are read afterwards, one
// event after another in arrival order, so the source of an event is never
// slowed by it. Status streams repeat themselves (a device's status is sent on
// every edit, a job's on every progress step), so each kind fires on the
// change into its state only.

import { newId } from '../../db/ids.js'
import type { AlertEventPayload, EventBus, JobEventPayload } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import {
  type EventKind,
  type EventResource,
  linkOf,
  type NotificationEvent,
  type ResourceType,
} from './events.js'
import { logExcerpt, type ResourceFacts, type ResourceLookup } from './resources.js'

/** Events waiting for their lookups; beyond this a burst is dropped (and counted) rather than held in memory. */
export const MAX_QUEUED_EVENTS = 10_000
/** Finished jobs remembered so a repeated `job.updated` does not notify twice. */
const FINISHED_JOBS_REMEMBERED = 10_000
/** How the supervisor words the status reason of an agent it gave up restarting. */
const CRASH_LOOP_REASON = /^crash loop\b/

const TASK_KINDS: Record<string, EventKind> = {
  failed: 'task.failed',
  skipped: 'task.skipped',
  success: 'task.succeeded',
}
const JOB_KINDS: Record<string, EventKind> = {
  completed: 'job.completed',
  failed: 'job.failed',
  cancelled: 'job.cancelled',
  interrupted: 'job.interrupted',
}

const DEVICE_CHANGES: Partial<Record<EventKind, string>> = {
  'device.connected': 'connected',
  'device.disconnected': 'disconnected',
  'device.error': 'reported an error',
  'device.alarm': 'stopped itself (alarm)',
  'device.offline': 'is offline',
  'device.online': 'is online again',
}

/** An alert rule's condition in words, for a summary. */
function alertCondition(alert: AlertEventPayload): string {
  const held = alert.forSeconds > 0 ? ` for ${alert.forSeconds} s` : ''
  switch (alert.kind) {
    case 'below-target':
      return `more than ${alert.delta} below ${alert.targetMetric}${held}`
    case 'above-target':
      return `more than ${alert.delta} above ${alert.targetMetric}${held}`
    case 'no-rise':
      return `no rise of ${alert.delta} within ${alert.forSeconds} s of a new ${alert.targetMetric}`
    default:
      return `${alert.operator} ${alert.threshold}${held}`
  }
}

const WITH_REASON = new Set<EventKind>(['device.error', 'device.alarm', 'device.offline'])

export interface EventSourceOptions {
  bus: EventBus
  lookup: ResourceLookup
  logger: Logger
  /** Receives each event, in order; the next waits for it (the dispatcher writes its outbox rows). */
  deliver(event: NotificationEvent): Promise<void>
  now?: () => Date
}

export class EventSource {
  private readonly offs: (() => void)[] = []
  private chain: Promise<void> = Promise.resolve()
  private queued = 0
  private dropped = 0
  private readonly deviceStatus = new Map<string, string>()
  private readonly crashLooping = new Set<string>()
  /** Running agents whose health check fails: one agent.unhealthy per failure, again after a pass. */
  private readonly unhealthy = new Set<string>()
  private readonly finishedJobs = new Set<string>()
  private readonly now: () => Date

  constructor(private readonly options: EventSourceOptions) {
    this.now = options.now ?? (() => new Date())
  }

  start(): void {
    const { bus } = this.options
    this.offs.push(
      bus.on('agent.exited', (e) => {
        if (e.expected) return
        this.queue(() => this.agentExited(e.agentId, e.code, e.signal, e.at))
      }),
      bus.on('agent.status', (e) => {
        if (!e.checkFailure) this.unhealthy.delete(e.agentId)
        else if (!this.unhealthy.has(e.agentId)) {
          this.unhealthy.add(e.agentId)
          const detail = e.checkFailure
          this.queue(() => this.agentUnhealthy(e.agentId, detail, e.health))
        }
        const looping = e.status === 'error' && CRASH_LOOP_REASON.test(e.reason ?? '')
        if (!looping) {
          this.crashLooping.delete(e.agentId)
          return
        }
        if (this.crashLooping.has(e.agentId)) return
        this.crashLooping.add(e.agentId)
        this.queue(() => this.agentCrashLoop(e.agentId, e.reason ?? 'crash loop'))
      }),
      bus.on('agent.deleted', (e) => {
        this.crashLooping.delete(e.agentId)
        this.unhealthy.delete(e.agentId)
      }),
      bus.on('task.run', (e) => {
        const kind = TASK_KINDS[e.status]
        if (kind && e.taskId) this.queue(() => this.taskRun(kind, e.taskId, e.runId))
      }),
      bus.on('job.updated', ({ job }) => {
        const kind = JOB_KINDS[job.status]
        if (!kind || this.finishedJobs.has(job.id)) return
        this.finishedJobs.add(job.id)
        if (this.finishedJobs.size > FINISHED_JOBS_REMEMBERED) {
          this.finishedJobs.delete(this.finishedJobs.values().next().value as string)
        }
        this.queue(async () => this.jobFinished(kind, job))
      }),
      bus.on('device.status', (e) => {
        const previous = this.deviceStatus.get(e.deviceId)
        this.deviceStatus.set(e.deviceId, e.status)
        if (previous === e.status) return
        let kind: EventKind | undefined
        if (e.status === 'connected') kind = 'device.connected'
        else if (e.status === 'error') kind = 'device.error'
        // Only a connection that was up can drop; a new or edited device reports `disconnected` too.
        else if (e.status === 'disconnected' && previous === 'connected') kind = 'device.disconnected'
        if (kind) {
          const k = kind
          this.queue(() => this.deviceChanged(k, e.deviceId, e.lastError ?? null))
        }
      }),
      bus.on('device.deleted', (e) => this.deviceStatus.delete(e.deviceId)),
      bus.on('alert.changed', ({ alert, notify }) => {
        if (!notify || (alert.state !== 'firing' && alert.state !== 'resolved')) return
        this.queue(() => this.alertChanged(alert))
      }),
      // Once per alarm (the connection reports it until cleared); the device.error of its status is apart.
      bus.on('device.alarm', (e) =>
        this.queue(() => this.deviceChanged('device.alarm', e.deviceId, e.message)),
      ),
      // The connection reports each change of availability once, so no state is kept here.
      bus.on('device.availability', (e) => {
        const kind: EventKind = e.stale ? 'device.offline' : 'device.online'
        this.queue(() => this.deviceChanged(kind, e.deviceId, e.reason))
      }),
    )
  }

  /** Stops listening, then waits until every queued event has been handed on. */
  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off()
    await this.chain
  }

  /** Resolves when the events queued so far have been handed on (tests, shutdown). */
  settled(): Promise<void> {
    return this.chain
  }

  private queue(build: () => Promise<NotificationEvent | null>): void {
    if (this.queued >= MAX_QUEUED_EVENTS) {
      this.dropped++
      if (this.dropped === 1 || this.dropped % 1000 === 0) {
        this.options.logger.warn({ dropped: this.dropped }, 'notifications: event queue full; events dropped')
      }
      return
    }
    this.queued++
    this.chain = this.chain
      .then(async () => {
        const event = await build()
        if (event) await this.options.deliver(event)
      })
      .catch((err) => this.options.logger.error({ err }, 'notifications: could not handle an event'))
      .finally(() => {
        this.queued--
      })
  }

  private event(
    kind: EventKind,
    resource: EventResource,
    summary: string,
    details: Record<string, unknown>,
  ): NotificationEvent {
    return {
      id: newId(),
      kind,
      time: this.now().toISOString(),
      resource,
      summary,
      link: linkOf(resource.type, resource.id),
      details,
    }
  }

  private resource(type: ResourceType, id: string, facts: ResourceFacts | undefined): EventResource {
    return { type, id, name: facts?.name ?? id, ownerId: facts?.ownerId ?? null }
  }

  private async agentExited(
    id: string,
    code: number | null,
    signal: string | null,
    at: string,
  ): Promise<NotificationEvent | null> {
    const facts = await this.options.lookup.agent(id)
    if (!facts) return null
    const how = signal ? `was ended by ${signal}` : `exited with code ${code}`
    return this.event('agent.exited', this.resource('agent', id, facts), `Agent "${facts.name}" ${how}`, {
      code,
      signal,
      exitedAt: at,
    })
  }

  private async agentCrashLoop(id: string, reason: string): Promise<NotificationEvent | null> {
    const facts = await this.options.lookup.agent(id)
    if (!facts) return null
    return this.event(
      'agent.crashloop',
      this.resource('agent', id, facts),
      `Agent "${facts.name}" is in a crash loop and was not restarted again`,
      { reason },
    )
  }

  private async agentUnhealthy(id: string, check: string, health: number): Promise<NotificationEvent | null> {
    const facts = await this.options.lookup.agent(id)
    if (!facts) return null
    return this.event(
      'agent.unhealthy',
      this.resource('agent', id, facts),
      `Agent "${facts.name}" is unhealthy: ${check}`,
      { check, health },
    )
  }

  private async taskRun(kind: EventKind, taskId: string, runId: string): Promise<NotificationEvent | null> {
    const [task, run] = await Promise.all([this.options.lookup.task(taskId), this.options.lookup.run(runId)])
    if (!task) return null
    const verb = kind === 'task.failed' ? 'failed' : kind === 'task.skipped' ? 'skipped a run' : 'succeeded'
    const why = run?.error && kind !== 'task.succeeded' ? `: ${run.error}` : ''
    return this.event(kind, this.resource('task', taskId, task), `Task "${task.name}" ${verb}${why}`, {
      runId,
      attempt: run?.attempt ?? null,
      trigger: run?.trigger ?? null,
      error: run?.error ?? null,
      logExcerpt: kind === 'task.failed' ? logExcerpt(run?.logs ?? null) : null,
    })
  }

  private jobFinished(kind: EventKind, job: JobEventPayload): NotificationEvent {
    const verbs: Partial<Record<EventKind, string>> = {
      'job.completed': 'completed',
      'job.failed': 'failed',
      'job.interrupted': 'was interrupted',
    }
    const verb = verbs[kind] ?? 'was cancelled'
    const why = job.error ? `: ${job.error}` : ''
    return this.event(
      kind,
      { type: 'job', id: job.id, name: job.name, ownerId: job.ownerId },
      `Job "${job.name}" ${verb}${why}`,
      {
        type: job.type,
        error: job.error ?? null,
        startedAt: job.startedAt ?? null,
        finishedAt: job.finishedAt ?? null,
      },
    )
  }

  private async deviceChanged(
    kind: EventKind,
    id: string,
    lastError: string | null,
  ): Promise<NotificationEvent | null> {
    const facts = await this.options.lookup.device(id)
    if (!facts) return null
    const what = DEVICE_CHANGES[kind] ?? ''
    const why = lastError && WITH_REASON.has(kind) ? `: ${lastError}` : ''
    return this.event(kind, this.resource('device', id, facts), `Device "${facts.name}" ${what}${why}`, {
      lastError,
    })
  }

  /** The alert's rule is the resource (owned by the rule's owner), so each rule has its own cooldown. */
  private async alertChanged(alert: AlertEventPayload): Promise<NotificationEvent> {
    const firing = alert.state === 'firing'
    const device = alert.deviceId ? await this.options.lookup.device(alert.deviceId) : undefined
    // A host alert names the host it is about (each node of a cluster watches its own).
    const subject = alert.deviceId
      ? `${alert.metric} of device "${device?.name ?? alert.deviceId}"`
      : `${alert.metric}${alert.mount ? ` of ${alert.mount}` : ''}${alert.node ? ` on "${alert.node}"` : ''}`
    const condition = firing ? ` (${alertCondition(alert)})` : ''
    const value = alert.value === null ? 'no longer watched' : `is ${alert.value}${condition}`
    return this.event(
      firing ? 'alert.firing' : 'alert.resolved',
      { type: 'alert', id: alert.ruleId, name: alert.ruleName, ownerId: alert.ownerId },
      `Alert "${alert.ruleName}" ${firing ? 'is firing' : 'resolved'}: ${subject} ${value}`,
      {
        alertId: alert.id,
        state: alert.state,
        value: alert.value,
        source: alert.source,
        metric: alert.metric,
        deviceId: alert.deviceId,
        deviceName: device?.name ?? null,
        mount: alert.mount,
        node: alert.node,
        kind: alert.kind,
        operator: alert.operator,
        threshold: alert.threshold,
        clearThreshold: alert.clearThreshold,
        targetMetric: alert.targetMetric,
        delta: alert.delta,
        forSeconds: alert.forSeconds,
        startedAt: alert.startedAt,
        firedAt: alert.firedAt,
        endedAt: alert.endedAt,
      },
    )
  }
}
