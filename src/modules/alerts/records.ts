// An alert rule and an alert as the alerts area sees them. A rule watches one
// value: a host metric (from the monitoring sampler) or one named reading of
// one device's telemetry. An alert is one excursion of that value: pending
// while the condition holds but not yet forSeconds, firing after, then
// resolved once the value passes the clear threshold (hysteresis), or ok when
// the condition stopped before it fired.

export const HOST_METRICS = [
  'cpu.percent',
  'memory.percent',
  'swap.percent',
  'disk.percent',
  'load.1',
  'load.5',
  'load.15',
] as const
export type HostMetric = (typeof HOST_METRICS)[number]

export const OPERATORS = ['>', '>=', '<', '<='] as const
export type Operator = (typeof OPERATORS)[number]

/**
 * threshold: `value <operator> threshold`. The relative kinds compare a device's reading with
 * its target reading (a heater's set temperature); a target of 0 (heater off) never alerts:
 * - below-target: below target - delta, once it had reached the target (within delta);
 * - above-target: above target + delta (with warmUpExempt, once it had reached the target, so
 *   a heater cooling down to a lower target is not an alert);
 * - no-rise: after a new target above the reading by more than delta, the reading has not
 *   risen by delta within forSeconds (a heater that does not heat).
 */
export const RULE_KINDS = ['threshold', 'below-target', 'above-target', 'no-rise'] as const
export type RuleKind = (typeof RULE_KINDS)[number]

/** What a device rule may do on the machine when its alert fires, besides telling anyone. */
export const SAFETY_ACTIONS = ['pause-job', 'cancel-job', 'send-command'] as const
export type SafetyActionType = (typeof SAFETY_ACTIONS)[number]
export interface SafetyAction {
  type: SafetyActionType
  /** send-command: the command (M104 S0, GRBL's feed hold !). */
  command?: string
}

export const ALERT_SOURCES = ['host', 'device'] as const
export type AlertSource = (typeof ALERT_SOURCES)[number]

/** pending and firing are active; resolved and ok are how an alert ends. */
export const ALERT_STATES = ['pending', 'firing', 'resolved', 'ok'] as const
export type AlertState = (typeof ALERT_STATES)[number]
export const ACTIVE_STATES: readonly AlertState[] = ['pending', 'firing']

export interface AlertRule {
  id: string
  name: string
  ownerId: string
  enabled: boolean
  source: AlertSource
  /** A host metric, or the reading's name for a device rule. */
  metric: string
  /** The device of a device rule; null for a host rule. */
  deviceId: string | null
  /** A disk.percent rule's mount point; null: the filesystem of the data directory. */
  mount: string | null
  kind: RuleKind
  /** A threshold rule's comparison; null for the relative kinds. */
  operator: Operator | null
  threshold: number | null
  /** A firing alert resolves once the value no longer passes this (default: the threshold). */
  clearThreshold: number | null
  /** Relative kinds: the device's reading holding the target, and the margin (degrees). */
  targetMetric: string | null
  delta: number | null
  /** above-target: not before the reading first reached its target (warm-up and cool-down). */
  warmUpExempt: boolean
  /** Device rules: done in order at each firing (cooldown or not: safety does not wait). */
  actions: SafetyAction[]
  forSeconds: number
  /** After an alert.firing is sent, the next one of this rule within this time is recorded but not sent. */
  cooldownSeconds: number
  createdAt: Date
  updatedAt: Date
}

/** What a rule watches and when it holds; stored, shown and told as one group. */
const CONDITION_KEYS = [
  'source',
  'metric',
  'deviceId',
  'mount',
  'kind',
  'operator',
  'threshold',
  'clearThreshold',
  'targetMetric',
  'delta',
  'warmUpExempt',
] as const
export type RuleCondition = Pick<AlertRule, (typeof CONDITION_KEYS)[number]>

/** What a host rule reads from a sample: the metric, or `disk.percent@<mount>` for a named mount. */
export function hostKey(rule: Pick<AlertRule, 'metric' | 'mount'>): string {
  return rule.mount === null ? rule.metric : `${rule.metric}@${rule.mount}`
}

export function conditionOf(rule: RuleCondition): RuleCondition {
  return Object.fromEntries(CONDITION_KEYS.map((key) => [key, rule[key]])) as unknown as RuleCondition
}

export interface Transition {
  state: AlertState
  value: number | null
  at: Date
}

export interface Alert {
  id: string
  ruleId: string
  ownerId: string
  /** `device` (resourceId the device id) or `host` (resourceId the metric, `disk.percent@/mount` for a mount). */
  resourceType: AlertSource
  resourceId: string
  /** The node that evaluated the rule and raised the alert (MYNTRIX_NODE_NAME); null on rows older than nodes. */
  node: string | null
  state: AlertState
  /** The value at the last change of state. */
  value: number | null
  startedAt: Date
  firedAt: Date | null
  endedAt: Date | null
  /** Whether alert.firing was sent for it (not when the rule's cooldown held it back). */
  notified: boolean
  acknowledgedAt: Date | null
  acknowledgedBy: string | null
  transitions: Transition[]
  updatedAt: Date
}
