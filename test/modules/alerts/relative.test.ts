// Relative device rules through the evaluator, reading by reading, with the
// evaluator's clock stepped by the test (the clock is not what is tested; the
// rules are): below the target after reaching it, above it (with and without
// the warm-up exemption), no rise after a new target, and a target of 0 (heater
// off) that never alerts. The end-to-end heater test with the Marlin emulator
// is in heater.test.ts.

import { afterEach, describe, expect, it } from 'vitest'
import { Evaluator, type StateChange } from '../../../src/modules/alerts/evaluator.js'
import type { AlertRule, RuleKind } from '../../../src/modules/alerts/records.js'
import { deviceRule } from './support.js'

const evaluators: Evaluator[] = []
afterEach(() => {
  for (const e of evaluators.splice(0)) e.stop()
})

function rule(kind: RuleKind, extra: Partial<AlertRule> = {}): AlertRule {
  return deviceRule({
    kind,
    targetMetric: 'targetTemperature',
    delta: 10,
    warmUpExempt: true,
    // Long enough that the pending timer never fires during a test: the readings move the clock.
    forSeconds: 60,
    ...extra,
  })
}

/** An evaluator watching `r`; `at(s, temperature, target)` feeds a reading at second s. */
function watch(r: AlertRule) {
  let now = 0
  const changes: StateChange[] = []
  const evaluator = new Evaluator(
    (c) => changes.push(c),
    () => now,
  )
  evaluators.push(evaluator)
  evaluator.watch(r)
  const at = (seconds: number, temperature: number, targetTemperature: number) => {
    now = seconds * 1000
    evaluator.deviceReadings('printer', { temperature, targetTemperature })
  }
  const states = () => changes.map((c) => `${c.to}@${c.at.getTime() / 1000}:${c.value}`)
  return { at, states }
}

describe('relative device rules', () => {
  it('below-target: not while heating up; below target - delta for forSeconds once it reached the target', () => {
    const { at, states } = watch(rule('below-target'))
    at(0, 25, 200)
    at(30, 120, 200)
    at(90, 185, 200) // still heating: below target - 10 but never reached it
    expect(states()).toEqual([])
    at(100, 195, 200) // reached (within 10)
    at(110, 185, 200)
    at(150, 184, 200)
    at(171, 183, 200)
    at(172, 196, 200)
    expect(states()).toEqual(['pending@110:185', 'firing@171:183', 'resolved@172:196'])
  })

  it('below-target: a new target starts over (a lower target while cooling is no alert)', () => {
    const { at, states } = watch(rule('below-target', { forSeconds: 0 }))
    at(0, 200, 200)
    at(10, 150, 220) // a new, higher target: heating again, not a drop
    at(20, 100, 0) // heater off
    expect(states()).toEqual([])
  })

  it('above-target: exempt while cooling to a lower target; alerts once it was reached', () => {
    const { at, states } = watch(rule('above-target', { forSeconds: 0 }))
    at(0, 250, 200)
    at(10, 230, 200)
    expect(states()).toEqual([])
    at(20, 205, 200)
    at(30, 215, 200)
    at(40, 209, 200)
    expect(states()).toEqual(['pending@30:215', 'firing@30:215', 'resolved@40:209'])
  })

  it('above-target without the warm-up exemption alerts at once', () => {
    const { at, states } = watch(rule('above-target', { forSeconds: 0, warmUpExempt: false }))
    at(0, 250, 200)
    expect(states()).toEqual(['pending@0:250', 'firing@0:250'])
  })

  it('no-rise: a heater that does not heat fires after forSeconds; one that heats does not', () => {
    const cold = watch(rule('no-rise', { forSeconds: 30, delta: 5 }))
    cold.at(0, 21, 0)
    cold.at(5, 21, 200)
    cold.at(20, 23, 200)
    cold.at(36, 24, 200)
    cold.at(40, 40, 200) // it heats after all
    expect(cold.states()).toEqual(['pending@5:21', 'firing@36:24', 'resolved@40:40'])

    const warm = watch({ ...rule('no-rise', { forSeconds: 30, delta: 5 }), id: 'warm' })
    warm.at(0, 21, 200)
    warm.at(10, 30, 200)
    warm.at(50, 150, 200)
    expect(warm.states()).toEqual(['pending@0:21', 'ok@10:30'])
  })

  it('a target of 0 (heater off) never alerts, nor does a sample without the target reading', () => {
    const { at, states } = watch(rule('no-rise', { forSeconds: 0 }))
    at(0, 21, 0)
    at(10, 21, 0)
    expect(states()).toEqual([])
  })
})
