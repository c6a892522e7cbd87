// When a rule's condition holds, and when a firing alert may resolve.
//
// Threshold rules: the clear threshold is the hysteresis band. A hotend
// alerting above 250 with a clear threshold of 240 stays firing while it
// wanders between 240 and 250, so a reading that hovers at the limit raises
// one alert, not one per wobble.
//
// Relative rules follow the device's own target (records.ts, RULE_KINDS): what
// they need to remember between readings (the target last seen, whether the
// reading reached it, where it stood when the target was set) is kept in a
// TargetTrack per rule, changed only here.

import type { AlertRule, Operator } from './records.js'

export function passes(operator: Operator, value: number, threshold: number): boolean {
  switch (operator) {
    case '>':
      return value > threshold
    case '>=':
      return value >= threshold
    case '<':
      return value < threshold
    case '<=':
      return value <= threshold
  }
}

/** What a relative rule remembers of its device's target. */
export interface TargetTrack {
  target: number | null
  /** The reading came within delta of the current target since it was set. */
  reached: boolean
  /** The reading when the current target was set. */
  startValue: number
  /** The current target was set above the reading by more than delta (a heat-up began). */
  isHeatUp: boolean
  /** The reading rose by delta since (the heater heats). */
  rose: boolean
}

export const newTargetTrack = (): TargetTrack => ({
  target: null,
  reached: false,
  startValue: 0,
  isHeatUp: false,
  rose: false,
})

export interface Judgement {
  /** The condition holds: an alert starts, or stays pending. */
  holds: boolean
  /** A firing alert resolves. */
  clears: boolean
}

type Condition = Pick<
  AlertRule,
  'kind' | 'operator' | 'threshold' | 'clearThreshold' | 'delta' | 'warmUpExempt'
>

/**
 * Judges one reading. `target` is the device's target reading in the same
 * sample (relative kinds; undefined when the sample has none, which changes
 * nothing remembered).
 */
export function judge(
  rule: Condition,
  value: number,
  target: number | undefined,
  track: TargetTrack,
): Judgement {
  if (rule.kind === 'threshold') {
    const operator = rule.operator as Operator
    const threshold = rule.threshold as number
    return {
      holds: passes(operator, value, threshold),
      clears: !passes(operator, value, rule.clearThreshold ?? threshold),
    }
  }
  const delta = rule.delta as number
  if (target !== undefined && target !== track.target) {
    track.target = target
    track.reached = false
    track.startValue = value
    track.isHeatUp = target > value + delta
    track.rose = false
  }
  const current = track.target
  if (current === null || current <= 0) return { holds: false, clears: true }
  if (Math.abs(value - current) <= delta) track.reached = true
  if (value - track.startValue >= delta) track.rose = true
  let holds: boolean
  if (rule.kind === 'below-target') holds = track.reached && value < current - delta
  else if (rule.kind === 'above-target')
    holds = (track.reached || !rule.warmUpExempt) && value > current + delta
  else holds = track.isHeatUp && !track.rose && !track.reached
  return { holds, clears: !holds }
}

/**
 * Why a clear threshold is wrong for the operator, or null: it must sit on the
 * safe side of the threshold (below it for > and >=, above it for < and <=),
 * or an alert could resolve while its condition still holds.
 */
export function clearThresholdProblem(
  operator: Operator,
  threshold: number,
  clearThreshold: number | null,
): string | null {
  if (clearThreshold === null) return null
  const above = operator === '>' || operator === '>='
  if (above && clearThreshold > threshold) return `must be <= threshold (${threshold}) for ${operator}`
  if (!above && clearThreshold < threshold) return `must be >= threshold (${threshold}) for ${operator}`
  return null
}
