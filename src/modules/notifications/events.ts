// The events a notification rule can subscribe to, and the one shape every
// notification carries whatever its sink: what happened, when, to which
// resource (and whose), a sentence a person can read, and the console path.

export const EVENT_KINDS = [
  'agent.exited',
  'agent.crashloop',
  'agent.unhealthy',
  'task.failed',
  'task.skipped',
  'task.succeeded',
  'job.completed',
  'job.failed',
  'job.cancelled',
  'job.interrupted',
  'device.connected',
  'device.disconnected',
  'device.error',
  'device.alarm',
  'device.offline',
  'device.online',
  'alert.firing',
  'alert.resolved',
] as const
export type EventKind = (typeof EVENT_KINDS)[number]

/** Sent by POST .../test only; no rule subscribes to it. */
export const TEST_EVENT_KIND = 'notification.test'

/** `rule`: the rule itself, the resource of a test notification. */
/** `alert`: an alert rule (its alerts' events; the cooldown then counts per alert rule). */
export const RESOURCE_TYPES = ['agent', 'task', 'job', 'device', 'rule', 'alert'] as const
export type ResourceType = (typeof RESOURCE_TYPES)[number]

export interface EventResource {
  type: ResourceType
  id: string
  name: string
  /** null for system work (a job no user started): only admins' rules see it. */
  ownerId: string | null
}

export interface NotificationEvent {
  /** UUIDv7, one per event: a receiver can drop a repeat delivery by it. */
  id: string
  kind: EventKind | typeof TEST_EVENT_KIND
  /** ISO-8601 UTC. */
  time: string
  resource: EventResource
  summary: string
  /** Path of the resource in the console (`/agents/<id>`); for jobs and rules, which have no page, the API path. */
  link: string
  details: Record<string, unknown>
}

/** What the body of a notification says besides the event. */
export interface NotificationBody extends NotificationEvent {
  rule: { id: string; name: string }
  /** Events of this rule and resource held back by the cooldown since the previous notification. */
  suppressed: number
}

const LINK_BASE: Record<ResourceType, string> = {
  agent: '/agents',
  task: '/tasks',
  job: '/resources/jobs',
  device: '/devices',
  rule: '/api/myntrix/notification-rules',
  alert: '/api/myntrix/alert-rules',
}

export function linkOf(type: ResourceType, id: string): string {
  return `${LINK_BASE[type]}/${encodeURIComponent(id)}`
}
