// Alert rules and alerts for their owners: CRUD owner-scoped like every area
// (another owner's rule or alert is 404 to a non-admin; viewers only read), the
// alerts list, and acknowledging a firing alert. A rule change takes effect at
// once: the evaluator watches the new version, and an alert the old version
// had open is closed (firing -> resolved, pending -> ok) with no value.

import { assertRole, ownerScope, type Principal, visibleOr404 } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import { ConflictError, type FieldError } from '../../errors.js'
import { refuseErrors } from '../../validation.js'
import { normalizeMountPoint } from '../monitoring/mounts.js'
import type { AlertRepository } from './alert-repository.js'
import { clearThresholdProblem } from './condition.js'
import type { Evaluator } from './evaluator.js'
import type { AlertRecorder } from './recorder.js'
import {
  ACTIVE_STATES,
  type Alert,
  type AlertRule,
  type AlertState,
  conditionOf,
  HOST_METRICS,
  type Operator,
  type RuleCondition,
  type SafetyAction,
} from './records.js'
import type { AlertRuleRepository } from './rule-repository.js'
import type {
  AlertListQuery,
  AlertRuleView,
  AlertView,
  ConditionInput,
  CreateAlertRuleBody,
  UpdateAlertRuleBody,
} from './schemas.js'

export const DEFAULT_COOLDOWN_SECONDS = 300
/** A reading's name as protocols produce them (temperature, hotendTarget, machineX). */
const READING_NAME = /^[A-Za-z0-9_.:-]+$/

/** The devices area, as far as rules need it: the device as the caller may see it (404 otherwise). */
export interface DeviceAccess {
  get(principal: Principal, id: string): Promise<{ id: string; ownerId: string }>
}

export interface AlertsServiceOptions {
  rules: AlertRuleRepository
  alerts: AlertRepository
  evaluator: Evaluator
  recorder: AlertRecorder
  devices: DeviceAccess
  /** The mount points of this host (disk.percent rules may name only those). */
  mountPoints: () => Promise<string[]>
  /** Tells every node (this one too) that a rule changed, so each watches what the database now holds. */
  announce: (ruleId: string) => void
  now?: () => Date
}

export function alertRuleView(rule: AlertRule): AlertRuleView {
  return {
    id: rule.id,
    name: rule.name,
    enabled: rule.enabled,
    condition: conditionOf(rule),
    forSeconds: rule.forSeconds,
    cooldownSeconds: rule.cooldownSeconds,
    actions: rule.actions,
    ownerId: rule.ownerId,
    createdAt: rule.createdAt.toISOString(),
    updatedAt: rule.updatedAt.toISOString(),
  }
}

export function alertView(alert: Alert): AlertView {
  return {
    id: alert.id,
    ruleId: alert.ruleId,
    ownerId: alert.ownerId,
    resourceType: alert.resourceType,
    resourceId: alert.resourceId,
    node: alert.node,
    state: alert.state,
    value: alert.value,
    startedAt: alert.startedAt.toISOString(),
    firedAt: alert.firedAt?.toISOString() ?? null,
    endedAt: alert.endedAt?.toISOString() ?? null,
    notified: alert.notified,
    acknowledgedAt: alert.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: alert.acknowledgedBy,
    transitions: alert.transitions.map((t) => ({ state: t.state, value: t.value, at: t.at.toISOString() })),
  }
}

/** The actions as given, or a 400: device rules only, a command for send-command and for it only. */
function checkActions(actions: SafetyAction[], source: AlertRule['source']): SafetyAction[] {
  const errors: FieldError[] = []
  actions.forEach((action, i) => {
    if (source !== 'device') errors.push({ path: `actions.${i}`, message: 'is for device rules only' })
    else if (action.type === 'send-command' && !action.command?.trim()) {
      errors.push({ path: `actions.${i}.command`, message: 'is required for send-command' })
    } else if (action.type !== 'send-command' && action.command !== undefined) {
      errors.push({ path: `actions.${i}.command`, message: 'is for send-command only' })
    }
  })
  refuseErrors(errors)
  return actions.map((a) =>
    a.type === 'send-command' ? { type: a.type, command: a.command } : { type: a.type },
  )
}

/** Whether two versions of a rule watch the same thing the same way (an open alert stays open). */
function sameWatch(a: AlertRule, b: AlertRule): boolean {
  return (
    a.enabled === b.enabled &&
    a.forSeconds === b.forSeconds &&
    JSON.stringify(conditionOf(a)) === JSON.stringify(conditionOf(b))
  )
}

export class AlertsService {
  private readonly now: () => Date

  constructor(private readonly options: AlertsServiceOptions) {
    this.now = options.now ?? (() => new Date())
  }

  async list(principal: Principal, page: { limit: number; offset: number }) {
    const { items, total } = await this.options.rules.list(ownerScope(principal), page)
    return { items: items.map(alertRuleView), total }
  }

  async get(principal: Principal, id: string): Promise<AlertRuleView> {
    return alertRuleView(await this.visible(principal, id))
  }

  async create(principal: Principal, input: CreateAlertRuleBody): Promise<AlertRuleView> {
    assertRole(principal, 'operator', 'create alert rules')
    // Before the device lookup: a bad body is a 400 whichever device it names.
    const actions = checkActions(input.actions ?? [], input.condition.source)
    const condition = await this.checkCondition(principal, input.condition)
    const now = this.now()
    const rule: AlertRule = {
      id: newId(),
      name: input.name,
      ownerId: principal.id,
      enabled: input.enabled ?? true,
      ...condition,
      forSeconds: input.forSeconds ?? 0,
      cooldownSeconds: input.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS,
      actions,
      createdAt: now,
      updatedAt: now,
    }
    await this.options.rules.insert(rule)
    if (rule.enabled) this.options.evaluator.watch(rule)
    this.options.announce(rule.id)
    return alertRuleView(rule)
  }

  async update(principal: Principal, id: string, input: UpdateAlertRuleBody): Promise<AlertRuleView> {
    assertRole(principal, 'operator', 'change alert rules')
    const before = await this.visible(principal, id)
    // An admin changing another user's rule may point it only at that user's devices: the alerts
    // (readings included) go to the rule's owner.
    const condition = input.condition
      ? await this.checkCondition(
          principal,
          input.condition,
          before.ownerId === principal.id ? undefined : before.ownerId,
        )
      : {}
    const rule: AlertRule = {
      ...before,
      ...condition,
      name: input.name ?? before.name,
      enabled: input.enabled ?? before.enabled,
      forSeconds: input.forSeconds ?? before.forSeconds,
      cooldownSeconds: input.cooldownSeconds ?? before.cooldownSeconds,
      updatedAt: this.now(),
    }
    rule.actions = checkActions(input.actions ?? before.actions, rule.source)
    await this.options.rules.update(rule)
    this.adopt(before, rule)
    this.options.announce(rule.id)
    return alertRuleView(rule)
  }

  async remove(principal: Principal, id: string): Promise<void> {
    assertRole(principal, 'operator', 'delete alert rules')
    await this.visible(principal, id)
    this.options.evaluator.unwatch(id)
    // Changes already taken are written first, so none is written after the rows are gone.
    await this.options.recorder.settled()
    await this.options.rules.delete(id)
    this.options.recorder.forgetRule(id)
    this.options.announce(id)
  }

  /**
   * A rule changed, here or on another node: watch what the database holds now. The rule as this
   * node watched it is compared, so a change this node made itself changes nothing more; a rule
   * gone (deleted, or its device deleted) is forgotten.
   */
  async follow(ruleId: string): Promise<void> {
    const { rules, evaluator, recorder } = this.options
    const rule = await rules.get(ruleId)
    const watched = evaluator.watched(ruleId)
    if (rule) {
      if (watched) this.adopt(watched, rule)
      else if (rule.enabled) evaluator.watch(rule)
      return
    }
    if (watched) evaluator.unwatch(ruleId)
    await recorder.settled()
    recorder.forgetRule(ruleId)
  }

  /** From one version of a rule to the next: the same watch keeps its alert; another closes it and starts over. */
  private adopt(before: AlertRule, rule: AlertRule): void {
    if (sameWatch(before, rule)) this.options.evaluator.refresh(rule)
    else {
      this.closeActive(before)
      if (rule.enabled) this.options.evaluator.watch(rule)
    }
  }

  async alerts(principal: Principal, query: AlertListQuery, page: { limit: number; offset: number }) {
    if (query.ruleId) await this.visible(principal, query.ruleId)
    const states: readonly AlertState[] | undefined =
      query.state === 'active' ? ACTIVE_STATES : query.state ? [query.state] : undefined
    const { items, total } = await this.options.alerts.list(
      { ownerId: ownerScope(principal), states, ruleId: query.ruleId, node: query.node },
      page,
    )
    return { items: items.map(alertView), total }
  }

  async alert(principal: Principal, id: string): Promise<AlertView> {
    return alertView(visibleOr404(principal, await this.options.alerts.get(id), 'alert', id))
  }

  /** Marks a firing alert as seen; again is a no-op answering the first acknowledgement. */
  async acknowledge(principal: Principal, id: string): Promise<AlertView> {
    assertRole(principal, 'operator', 'acknowledge alerts')
    const { recorder, alerts } = this.options
    // In the recorder's order, so a change of state written meanwhile does not undo it, nor it the change.
    return recorder.exclusive(async () => {
      const alert = visibleOr404(principal, await alerts.get(id), 'alert', id)
      if (alert.acknowledgedAt) return alertView(alert)
      if (alert.state !== 'firing') {
        throw new ConflictError(`alert ${id} is ${alert.state}; only a firing alert can be acknowledged`)
      }
      alert.acknowledgedAt = this.now()
      alert.acknowledgedBy = principal.id
      await alerts.update(alert)
      recorder.acknowledged(alert)
      return alertView(alert)
    })
  }

  /** Stops watching the rule; its open alert ends (firing -> resolved, pending -> ok) without a value. */
  private closeActive(rule: AlertRule): void {
    const active = this.options.evaluator.unwatch(rule.id)
    if (!active) return
    this.options.recorder.record({
      rule,
      alertId: active.alertId,
      from: active.state,
      to: active.state === 'firing' ? 'resolved' : 'ok',
      value: null,
      at: this.now(),
    })
  }

  /** `ownerId`: the device must be this user's (an admin editing another user's rule). */
  private async checkCondition(
    principal: Principal,
    input: ConditionInput,
    ownerId?: string,
  ): Promise<RuleCondition> {
    const errors: FieldError[] = []
    const at = (field: string, message: string) => errors.push({ path: `condition.${field}`, message })
    const kind = input.kind ?? 'threshold'
    const device = input.source === 'device'
    let mount: string | null = null
    if (!device) {
      if (!(HOST_METRICS as readonly string[]).includes(input.metric)) {
        at('metric', `must be one of ${HOST_METRICS.join(', ')}`)
      }
      if (input.mount !== undefined && input.mount !== null) {
        mount = await this.checkMount(input.metric, input.mount, at)
      }
      if (input.deviceId !== undefined) at('deviceId', 'is for device rules only')
      if (kind !== 'threshold') at('kind', 'host rules are threshold rules')
    } else {
      if (!READING_NAME.test(input.metric)) at('metric', 'must be a reading name (letters, digits, _ . : -)')
      if (input.deviceId === undefined) at('deviceId', 'is required')
      if (input.mount !== undefined && input.mount !== null) at('mount', 'is for host rules only')
    }
    if (kind === 'threshold') {
      if (input.operator === undefined) at('operator', 'is required')
      if (input.threshold === undefined) at('threshold', 'is required')
      for (const field of ['targetMetric', 'delta'] as const) {
        if (input[field] !== undefined) at(field, 'is for relative rules only')
      }
      if (input.operator !== undefined && input.threshold !== undefined) {
        const problem = clearThresholdProblem(input.operator, input.threshold, input.clearThreshold ?? null)
        if (problem) at('clearThreshold', problem)
      }
    } else {
      if (input.targetMetric === undefined) at('targetMetric', 'is required')
      else if (!READING_NAME.test(input.targetMetric)) at('targetMetric', 'must be a reading name')
      if (input.delta === undefined) at('delta', 'is required')
      for (const field of ['operator', 'threshold', 'clearThreshold'] as const) {
        if (input[field] !== undefined && input[field] !== null) at(field, 'is for threshold rules only')
      }
    }
    refuseErrors(errors)
    // Another owner's device answers 404, as it does everywhere.
    const found = device ? await this.options.devices.get(principal, input.deviceId as string) : null
    if (found && ownerId !== undefined && found.ownerId !== ownerId) {
      refuseErrors([{ path: 'condition.deviceId', message: "must be a device of the rule's owner" }])
    }
    const threshold = kind === 'threshold'
    return {
      source: input.source,
      metric: input.metric,
      deviceId: found?.id ?? null,
      mount,
      kind,
      operator: threshold ? (input.operator as Operator) : null,
      threshold: threshold ? (input.threshold as number) : null,
      clearThreshold: threshold ? (input.clearThreshold ?? null) : null,
      targetMetric: threshold ? null : (input.targetMetric as string),
      delta: threshold ? null : (input.delta as number),
      warmUpExempt: input.warmUpExempt ?? true,
    }
  }

  /** The mount point as stored, or null after recording why it is refused. */
  private async checkMount(
    metric: string,
    input: string,
    at: (field: string, message: string) => void,
  ): Promise<string | null> {
    if (metric !== 'disk.percent') {
      at('mount', 'is for disk.percent only')
      return null
    }
    const mount = normalizeMountPoint(input)
    if (mount === null) {
      at('mount', 'must be an absolute path')
      return null
    }
    // Checked on the node that answers; a node without it mounted reports nothing for it (docs/ALERTS.md).
    const known = await this.options.mountPoints()
    if (!known.includes(mount)) {
      const some = known.filter((m) => !m.startsWith('/proc') && !m.startsWith('/sys')).slice(0, 10)
      at(
        'mount',
        `is not a mount point of this host (${some.join(', ')}${known.length > some.length ? ', …' : ''})`,
      )
      return null
    }
    return mount
  }

  private async visible(principal: Principal, id: string): Promise<AlertRule> {
    return visibleOr404(principal, await this.options.rules.get(id), 'alert rule', id)
  }
}
