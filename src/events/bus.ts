// In-process event bus. Events are named `area.fact` (device.status,
// agent.exited, job.updated). on() hears this process's events only: the
// listeners with side effects (notifications, the scheduler) must act once,
// where the event happened. onAnyNode() also hears the events other nodes of a
// cluster publish (src/cluster/redis-bus.ts): what live feeds to clients use.
// On one instance the two are the same.

import { EventEmitter } from 'node:events'

export interface EventMap {
  'agent.status': {
    agentId: string
    ownerId: string
    status: string
    health: number
    pid: number | null
    /** Why the agent is in this status (exit code, `crash loop: ...`), when the supervisor said. */
    reason?: string | null
    /** A running agent whose health check (HTTP or heartbeat) fails: what the check said; else null. */
    checkFailure?: string | null
  }
  /** A process of the agent ended; `expected` when Myntrix ended it (stop, restart), not on its own. */
  'agent.exited': {
    agentId: string
    ownerId: string
    code: number | null
    signal: string | null
    at: string
    expected: boolean
  }
  'agent.log': { agentId: string; stream: 'stdout' | 'stderr'; line: string; ts: string }
  'agent.deleted': { agentId: string; ownerId: string }
  'device.status': {
    deviceId: string
    ownerId: string
    status: string
    lastSeen: string | null
    lastError?: string | null
    /** Connected but offline (silent past its availability timeout, or said so); absent: not known here. */
    stale?: boolean
  }
  /** A connected device went offline (silent, or its last-will) or was heard again; `reason` says why it went. */
  'device.availability': {
    deviceId: string
    ownerId: string
    stale: boolean
    reason: string | null
    at: string
  }
  /** The firmware stopped itself (GRBL ALARM:N, Marlin halt/kill); the status goes to error too. */
  'device.alarm': { deviceId: string; ownerId: string; message: string; at: string }
  'device.telemetry': { deviceId: string; ownerId: string; ts: string; readings: Record<string, unknown> }
  'device.log': { deviceId: string; ts: string; direction: 'in' | 'out' | 'info'; line: string }
  'device.deleted': { deviceId: string; ownerId: string }
  /** A transfer's stream stopped moving (docs/DEVICE-FILES.md, stall detection). */
  'device.stalled': { deviceId: string; ownerId: string; jobId: string; message: string; ts: string }
  'job.updated': { job: JobEventPayload }
  /**
   * An alert changed state (alerts area). `notify`: this change is one to send
   * (alert.firing, or alert.resolved of an alert whose firing was sent); false
   * inside the rule's cooldown and for pending or ok.
   */
  'alert.changed': { alert: AlertEventPayload; notify: boolean }
  /** An alert rule was created, changed or deleted: every node (onAnyNode) re-reads it and watches it anew. */
  'alert-rule.changed': { ruleId: string }
  'task.run': { runId: string; taskId: string; status: string }
  'task.changed': { taskId: string }
}

/** The public job shape, as the jobs area emits it. */
export interface JobEventPayload {
  id: string
  name: string
  type: string
  status: string
  progress: number
  ownerId: string | null
  details: Record<string, unknown> | null
  createdAt: string
  updatedAt: string
  error?: string | null
  startedAt?: string | null
  finishedAt?: string | null
  checkpoint?: Record<string, unknown> | null
  restartOf?: string | null
}

/** An alert with what its rule watches, as the alerts area emits it. */
export interface AlertEventPayload {
  id: string
  ruleId: string
  ruleName: string
  ownerId: string
  /** The node that raised the alert (MYNTRIX_NODE_NAME). */
  node: string | null
  state: 'pending' | 'firing' | 'resolved' | 'ok'
  value: number | null
  source: 'host' | 'device'
  metric: string
  deviceId: string | null
  /** A disk.percent rule's mount point; null: the data directory's filesystem. */
  mount: string | null
  kind: string
  operator: string | null
  threshold: number | null
  clearThreshold: number | null
  targetMetric: string | null
  delta: number | null
  warmUpExempt: boolean
  forSeconds: number
  startedAt: string
  firedAt: string | null
  endedAt: string | null
}

export type EventName = keyof EventMap
export type Listener<K extends EventName> = (payload: EventMap[K]) => void

export class EventBus {
  private readonly emitter = new EventEmitter()

  constructor() {
    // Many WebSocket clients may each subscribe; the default 10 would warn.
    this.emitter.setMaxListeners(0)
  }

  emit<K extends EventName>(name: K, payload: EventMap[K]): void {
    this.emitter.emit(name, payload)
  }

  /** Subscribe; returns the function that unsubscribes (call it in stop()). */
  on<K extends EventName>(name: K, listener: Listener<K>): () => void {
    const wrapped = (payload: EventMap[K]) => {
      try {
        listener(payload)
      } catch {
        // A faulty listener must not break the emitter or other listeners.
      }
    }
    this.emitter.on(name, wrapped)
    return () => this.emitter.off(name, wrapped)
  }

  /**
   * Like on(), plus the same events from the other nodes of a cluster (live feeds).
   * `ready` resolves once peers' events are being received (at once on one instance).
   */
  onAnyNode<K extends EventName>(name: K, listener: Listener<K>): (() => void) & { ready?: Promise<void> } {
    return this.on(name, listener)
  }

  listenerCount(name: EventName): number {
    return this.emitter.listenerCount(name)
  }
}
