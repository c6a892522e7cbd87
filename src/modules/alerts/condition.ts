// When a rule's condition holds, and when a firing alert may resolve. The
// clear threshold is the hysteresis band: a hotend alerting above 250 with a
// clear threshold of 240 stays firing while it wanders between 240 and 250, so
// a reading that hovers at the limit raises one alert, not one per wobble.

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

/** The condition of the rule holds for `value` (an alert starts or stays pending). */
export function holds(rule: Pick<AlertRule, 'operator' | 'threshold'>, value: number): boolean {
  return passes(rule.operator, value, rule.threshold)
}

/** A firing alert of the rule resolves at `value`: it no longer passes the clear threshold. */
export function clears(
  rule: Pick<AlertRule, 'operator' | 'threshold' | 'clearThreshold'>,
  value: number,
): boolean {
  return !passes(rule.operator, value, rule.clearThreshold ?? rule.threshold)
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
