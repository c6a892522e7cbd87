// Notification rules for their owners: CRUD owner-scoped like agents (another
// owner's rule is 404 to a non-admin; viewers read only), the deliveries of a
// rule, and a test notification sent at once. A webhook's signing secret is
// made here and answered once; the MQTT password is stored and never answered.

import { assertRole, type Principal } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import { actingRole, type OutboundPolicy } from '../../net/outbound-policy.js'
import { refuseErrors } from '../../validation.js'
import { OwnedRuleService } from '../owned-rule-service.js'
import type { AttemptRecord, DeliveryRecord } from './delivery-record.js'
import type { DeliveryWorker } from './delivery-worker.js'
import { newDelivery, notificationBody } from './dispatcher.js'
import { linkOf, type NotificationEvent, TEST_EVENT_KIND } from './events.js'
import type { Outbox } from './outbox.js'
import type { NotificationRule } from './rule-record.js'
import type { RuleRepository } from './rule-repository.js'
import type { CreateRuleBody, DeliveryView, RuleView, SinkInput, UpdateRuleBody } from './schemas.js'
import { newSigningSecret } from './signature.js'
import { sinkDestination, sinkErrors, sinkSettingsOf } from './sink-settings.js'

export const DEFAULT_COOLDOWN_SECONDS = 60

export interface NotificationsServiceOptions {
  rules: RuleRepository
  outbox: Outbox
  worker: DeliveryWorker
  policy: OutboundPolicy
  /** A user's role as it is now; undefined for a disabled or deleted user. */
  roleOf(userId: string): Promise<string | undefined>
  now?: () => Date
}

/** A rule as answered, with its signing secret when this answer made one. */
export interface RuleAnswer {
  rule: RuleView
  secret?: string
}

export function ruleView(rule: NotificationRule): RuleView {
  const sink = rule.sink
  return {
    id: rule.id,
    name: rule.name,
    enabled: rule.enabled,
    filter: rule.filter,
    cooldownSeconds: rule.cooldownSeconds,
    sink: {
      type: sink.type,
      url: sink.url,
      topic: sink.type === 'mqtt' ? sink.topic : null,
      username: sink.type === 'mqtt' ? sink.username : null,
      hasPassword: sink.type === 'mqtt' && rule.secret !== null,
      retain: sink.type === 'mqtt' && sink.retain,
    },
    ownerId: rule.ownerId,
    createdAt: rule.createdAt.toISOString(),
    updatedAt: rule.updatedAt.toISOString(),
  }
}

export function deliveryView(d: DeliveryRecord, attempts: AttemptRecord[]): DeliveryView {
  let body: unknown = d.body
  try {
    body = JSON.parse(d.body)
  } catch {
    // Stored by this server, so always JSON; shown as text if it ever is not.
  }
  return {
    id: d.id,
    ruleId: d.ruleId,
    eventId: d.eventId,
    eventKind: d.eventKind,
    resourceType: d.resourceType,
    resourceId: d.resourceId,
    status: d.status,
    attempts: d.attempts,
    maxAttempts: d.maxAttempts,
    nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    body,
    attemptLog: attempts.map((a) => ({
      attempt: a.attempt,
      startedAt: a.startedAt.toISOString(),
      durationMs: a.durationMs,
      statusCode: a.statusCode,
      error: a.error,
      outcome: a.outcome,
      nextAttemptAt: a.nextAttemptAt?.toISOString() ?? null,
    })),
  }
}

export class NotificationsService extends OwnedRuleService<NotificationRule, RuleView> {
  constructor(private readonly options: NotificationsServiceOptions) {
    super(options.rules, 'notification rule', ruleView, options.now)
  }

  async create(principal: Principal, input: CreateRuleBody): Promise<RuleAnswer> {
    assertRole(principal, 'operator', 'create notification rules')
    this.checkSink(input.sink, principal.role)
    const now = this.now()
    const secret = input.sink.type === 'webhook' ? newSigningSecret() : (input.sink.password ?? null)
    const rule: NotificationRule = {
      id: newId(),
      name: input.name,
      ownerId: principal.id,
      enabled: input.enabled ?? true,
      filter: input.filter,
      cooldownSeconds: input.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS,
      sink: sinkSettingsOf(input.sink),
      secret,
      createdAt: now,
      updatedAt: now,
    }
    await this.options.rules.insert(rule)
    return { rule: ruleView(rule), ...(rule.sink.type === 'webhook' && { secret: secret as string }) }
  }

  async update(principal: Principal, id: string, input: UpdateRuleBody): Promise<RuleAnswer> {
    assertRole(principal, 'operator', 'change notification rules')
    const rule = await this.visible(principal, id)
    const sinkType = input.sink?.type ?? rule.sink.type
    if (input.rotateSecret && sinkType !== 'webhook') {
      refuseErrors([{ path: 'rotateSecret', message: 'is for webhook sinks only' }])
    }
    let newSecret: string | undefined
    if (input.sink) {
      // Deliveries act with the owner's role: whoever edits the rule, it cannot reach further than that.
      this.checkSink(input.sink, actingRole(await this.options.roleOf(rule.ownerId), principal.role))
      if (input.sink.type === 'webhook') {
        if (rule.sink.type !== 'webhook' || !rule.secret) newSecret = newSigningSecret()
      } else {
        rule.secret = input.sink.password ?? (rule.sink.type === 'mqtt' ? rule.secret : null)
      }
      rule.sink = sinkSettingsOf(input.sink)
    }
    if (input.rotateSecret) newSecret = newSigningSecret()
    if (newSecret) rule.secret = newSecret
    if (input.name !== undefined) rule.name = input.name
    if (input.enabled !== undefined) rule.enabled = input.enabled
    if (input.filter !== undefined) rule.filter = input.filter
    if (input.cooldownSeconds !== undefined) rule.cooldownSeconds = input.cooldownSeconds
    rule.updatedAt = this.now()
    await this.options.rules.update(rule)
    return { rule: ruleView(rule), ...(newSecret && { secret: newSecret }) }
  }

  async remove(principal: Principal, id: string): Promise<void> {
    assertRole(principal, 'operator', 'delete notification rules')
    await this.visible(principal, id)
    await this.options.rules.delete(id)
  }

  async deliveries(principal: Principal, id: string, page: { limit: number; offset: number }) {
    await this.visible(principal, id)
    const { items, total } = await this.options.outbox.forRule(id, page)
    const attempts = await this.options.outbox.attempts(items.map((d) => d.id))
    return { items: items.map((d) => deliveryView(d, attempts.get(d.id) ?? [])), total }
  }

  /**
   * Sends a test notification through the rule's sink now (enabled or not),
   * once, without a cooldown, and answers the delivery with its attempt.
   */
  async test(principal: Principal, id: string): Promise<DeliveryView> {
    assertRole(principal, 'operator', 'send test notifications')
    const rule = await this.visible(principal, id)
    const now = this.now()
    const event: NotificationEvent = {
      id: newId(),
      kind: TEST_EVENT_KIND,
      time: now.toISOString(),
      resource: { type: 'rule', id: rule.id, name: rule.name, ownerId: rule.ownerId },
      summary: `Test notification of rule "${rule.name}"`,
      link: linkOf('rule', rule.id),
      details: { requestedBy: principal.username },
    }
    const delivery = newDelivery(rule, event, notificationBody(event, rule, 0), {
      maxAttempts: 1,
      now,
      due: null,
    })
    await this.options.outbox.enqueue(delivery)
    const sent = (await this.options.worker.sendNow(delivery.id)) ?? delivery
    const attempts = await this.options.outbox.attempts([sent.id])
    return deliveryView(sent, attempts.get(sent.id) ?? [])
  }

  private checkSink(input: SinkInput, role: string | undefined): void {
    refuseErrors(sinkErrors(input))
    const { host, port } = sinkDestination(input)
    const purpose = input.type === 'webhook' ? 'notification webhook' : 'notification mqtt'
    this.options.policy.checkLiteral({ role, host, port, purpose }, 'sink.url')
  }
}
