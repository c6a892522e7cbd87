// Records what the evaluator decided: each change of state is written to the
// alert's row (one write per change, in order, after the reading that caused
// it has long been handled), then told on the bus. The rule's cooldown is
// applied here: an alert that fires within cooldownSeconds of the rule's last
// sent alert.firing is recorded but not sent, and neither is its resolution.

import type { AlertEventPayload, EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import type { AlertRepository } from './alert-repository.js'
import type { StateChange } from './evaluator.js'
import { type Alert, type AlertRule, conditionOf, hostKey } from './records.js'

export interface AlertRecorderOptions {
  repo: AlertRepository
  bus: EventBus
  logger: Logger
  /** This node's name, written on each alert it raises (MYNTRIX_NODE_NAME). */
  node: string
  /**
   * In a cluster: the rule's cooldown is per rule and node, as its alerts are (two hosts filling up
   * are two problems). Off on one instance, which counts every earlier alert as its own.
   */
  perNode: boolean
}

export function alertPayload(alert: Alert, rule: AlertRule): AlertEventPayload {
  return {
    id: alert.id,
    ruleId: rule.id,
    ruleName: rule.name,
    ownerId: alert.ownerId,
    node: alert.node,
    state: alert.state,
    value: alert.value,
    ...conditionOf(rule),
    forSeconds: rule.forSeconds,
    startedAt: alert.startedAt.toISOString(),
    firedAt: alert.firedAt?.toISOString() ?? null,
    endedAt: alert.endedAt?.toISOString() ?? null,
  }
}

/** The resource a rule's alerts are about: the device, or the host metric. */
export function resourceOf(rule: AlertRule): { type: Alert['resourceType']; id: string } {
  return rule.source === 'device'
    ? { type: 'device', id: rule.deviceId as string }
    : { type: 'host', id: hostKey(rule) }
}

export class AlertRecorder {
  private chain: Promise<void> = Promise.resolve()
  /** Pending and firing alerts by id: their rows are changed without being read again. */
  private readonly active = new Map<string, Alert>()
  /** Per rule, when its last alert.firing went out (epoch ms); read from the database once. */
  private readonly lastNotified = new Map<string, number | null>()

  constructor(private readonly options: AlertRecorderOptions) {}

  /** Which node's alerts are this recorder's when read back: undefined on one instance (all of them). */
  get nodeFilter(): string | undefined {
    return this.options.perNode ? this.options.node : undefined
  }

  /** Alerts that were active when the server stopped, resumed by the evaluator. */
  resume(alerts: Alert[]): void {
    for (const alert of alerts) this.active.set(alert.id, alert)
  }

  activeOfRule(ruleId: string): Alert | undefined {
    for (const alert of this.active.values()) if (alert.ruleId === ruleId) return alert
    return undefined
  }

  /** Takes a change now (in order); writes and tells it afterwards. */
  record(change: StateChange): void {
    this.queue(() => this.apply(change))
  }

  /** The rule's row was deleted with its alerts: forget them. */
  forgetRule(ruleId: string): void {
    for (const [id, alert] of this.active) if (alert.ruleId === ruleId) this.active.delete(id)
    this.lastNotified.delete(ruleId)
  }

  /** Resolves when every change taken so far is written and told (tests, shutdown, acknowledge). */
  settled(): Promise<void> {
    return this.chain
  }

  /** A change made through the API (acknowledge) to an alert the recorder may hold: keep both in step. */
  acknowledged(alert: Alert): void {
    const held = this.active.get(alert.id)
    if (!held) return
    held.acknowledgedAt = alert.acknowledgedAt
    held.acknowledgedBy = alert.acknowledgedBy
  }

  /** Runs `work` in turn with the changes of state (an acknowledgement writes the same row). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.chain.then(work)
    this.chain = result.then(
      () => {},
      () => {},
    )
    return result
  }

  private queue(work: () => Promise<void>): void {
    this.chain = this.chain
      .then(work)
      .catch((err) => this.options.logger.error({ err }, 'alerts: could not record a change of state'))
  }

  private async apply(change: StateChange): Promise<void> {
    const { rule, alertId, to, value, at } = change
    const { repo } = this.options
    let alert = this.active.get(alertId)
    if (to === 'pending' || !alert) {
      const resource = resourceOf(rule)
      alert = {
        id: alertId,
        ruleId: rule.id,
        ownerId: rule.ownerId,
        resourceType: resource.type,
        resourceId: resource.id,
        node: this.options.node,
        state: to,
        value,
        startedAt: at,
        firedAt: null,
        endedAt: null,
        notified: false,
        acknowledgedAt: null,
        acknowledgedBy: null,
        transitions: [],
        updatedAt: at,
      }
    }
    alert.state = to
    alert.value = value
    alert.updatedAt = at
    alert.transitions.push({ state: to, value, at })
    let notify = false
    if (to === 'firing') {
      alert.firedAt = at
      notify = await this.mayNotify(rule, at)
      alert.notified = notify
    } else if (to === 'resolved' || to === 'ok') {
      alert.endedAt = at
      notify = to === 'resolved' && alert.notified
    }
    if (to === 'pending' || to === 'firing') this.active.set(alert.id, alert)
    else this.active.delete(alert.id)
    if (to === 'pending' && alert.transitions.length === 1) await repo.insert(alert)
    else if (!(await repo.update(alert))) return
    this.options.bus.emit('alert.changed', { alert: alertPayload(alert, rule), notify })
  }

  private async mayNotify(rule: AlertRule, at: Date): Promise<boolean> {
    if (!this.lastNotified.has(rule.id)) {
      this.lastNotified.set(
        rule.id,
        (await this.options.repo.lastNotifiedAt(rule.id, this.nodeFilter))?.getTime() ?? null,
      )
    }
    const last = this.lastNotified.get(rule.id) ?? null
    if (last !== null && at.getTime() - last < rule.cooldownSeconds * 1000) return false
    this.lastNotified.set(rule.id, at.getTime())
    return true
  }
}
