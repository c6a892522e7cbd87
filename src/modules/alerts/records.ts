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
  operator: Operator
  threshold: number
  /** A firing alert resolves once the value no longer passes this (default: the threshold). */
  clearThreshold: number | null
  forSeconds: number
  /** After an alert.firing is sent, the next one of this rule within this time is recorded but not sent. */
  cooldownSeconds: number
  createdAt: Date
  updatedAt: Date
}

/** What a rule watches and when it holds; stored, shown and told as one group. */
export type RuleCondition = Pick<
  AlertRule,
  'source' | 'metric' | 'deviceId' | 'operator' | 'threshold' | 'clearThreshold'
>

export function conditionOf(rule: RuleCondition): RuleCondition {
  const { source, metric, deviceId, operator, threshold, clearThreshold } = rule
  return { source, metric, deviceId, operator, threshold, clearThreshold }
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
  /** `device` (resourceId the device id) or `host` (resourceId the metric, with the mount for disk). */
  resourceType: AlertSource
  resourceId: string
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
