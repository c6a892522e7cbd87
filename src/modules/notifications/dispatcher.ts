// From one event to the notifications it causes: every enabled rule whose
// filter takes the event, and whose owner may see the resource, gets one
// delivery in the outbox, unless the rule's cooldown for that resource is
// still running; then the event is only counted, and the next notification
// for that rule and resource says how many were held back.

import { newId } from '../../db/ids.js'
import type { DeliveryRecord } from './delivery-record.js'
import type { NotificationBody, NotificationEvent } from './events.js'
import type { Outbox } from './outbox.js'
import type { NotificationRule } from './rule-record.js'
import type { RuleRepository } from './rule-repository.js'

export interface DispatcherOptions {
  rules: RuleRepository
  outbox: Outbox
  /** The owner's role as it is now; undefined for a disabled or deleted owner, whose rules send nothing. */
  roleOf(userId: string): Promise<string | undefined>
  maxAttempts: number
  /** Called after deliveries were queued (wakes the worker). */
  queued(): void
  now?: () => Date
}

/**
 * What a rule's cooldown counts per: the resource, and for an alert also the node that raised it
 * (each node of a cluster watches its own host: two disks filling up are two problems to hear of).
 */
function cooldownKey(event: NotificationEvent): string {
  const key = `${event.resource.type}:${event.resource.id}`
  const node = event.resource.type === 'alert' ? event.details.node : undefined
  return typeof node === 'string' ? `${key}@${node}` : key
}

/** Whether the rule's filter takes the event (kinds, then the id list of the resource's type). */
export function filterMatches(rule: NotificationRule, event: NotificationEvent): boolean {
  const { filter } = rule
  if (!(filter.kinds as string[]).includes(event.kind)) return false
  const ids =
    event.resource.type === 'agent'
      ? filter.agentIds
      : event.resource.type === 'device'
        ? filter.deviceIds
        : event.resource.type === 'task'
          ? filter.taskIds
          : undefined
  return !ids || ids.length === 0 || ids.includes(event.resource.id)
}

/** The body of a delivery: the event, which rule sent it, and what the cooldown held back. */
export function notificationBody(
  event: NotificationEvent,
  rule: Pick<NotificationRule, 'id' | 'name'>,
  suppressed: number,
): string {
  const body: NotificationBody = { ...event, rule: { id: rule.id, name: rule.name }, suppressed }
  return JSON.stringify(body)
}

/** A new pending delivery of `body` for `rule`, due at `due` (null: only sent when asked, as a test is). */
export function newDelivery(
  rule: NotificationRule,
  event: NotificationEvent,
  body: string,
  options: { maxAttempts: number; now: Date; due: Date | null },
): DeliveryRecord {
  return {
    id: newId(),
    ruleId: rule.id,
    eventId: event.id,
    eventKind: event.kind,
    resourceType: event.resource.type,
    resourceId: event.resource.id,
    body,
    status: 'pending',
    attempts: 0,
    maxAttempts: options.maxAttempts,
    nextAttemptAt: options.due,
    lastStatusCode: null,
    lastError: null,
    createdAt: options.now,
    deliveredAt: null,
  }
}

export class Dispatcher {
  private readonly now: () => Date

  constructor(private readonly options: DispatcherOptions) {
    this.now = options.now ?? (() => new Date())
  }

  async dispatch(event: NotificationEvent): Promise<void> {
    const { outbox } = this.options
    const roles = new Map<string, string | undefined>()
    let queued = 0
    for (const rule of await this.options.rules.enabled()) {
      if (!filterMatches(rule, event)) continue
      if (!roles.has(rule.ownerId)) roles.set(rule.ownerId, await this.options.roleOf(rule.ownerId))
      const role = roles.get(rule.ownerId)
      if (role === undefined) continue
      if (role !== 'admin' && event.resource.ownerId !== rule.ownerId) continue
      const now = this.now()
      const resourceKey = cooldownKey(event)
      let suppressed = 0
      if (rule.cooldownSeconds > 0) {
        const cooldown = await outbox.cooldown(rule.id, resourceKey)
        if (cooldown && now.getTime() - cooldown.lastSentAt.getTime() < rule.cooldownSeconds * 1000) {
          await outbox.suppress(rule.id, resourceKey)
          continue
        }
        suppressed = cooldown?.suppressed ?? 0
      }
      const body = notificationBody(event, rule, suppressed)
      const delivery = newDelivery(rule, event, body, {
        maxAttempts: this.options.maxAttempts,
        now,
        due: now,
      })
      await outbox.enqueue(delivery, rule.cooldownSeconds > 0 ? { resourceKey, at: now } : undefined)
      queued++
    }
    if (queued > 0) this.options.queued()
  }
}
