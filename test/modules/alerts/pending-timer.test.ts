// The pending timer against the alert's clock. Node's timers run on a monotonic
// clock and can wake a millisecond before the wall clock an alert's times are
// kept in says forSeconds have passed (seen in CI: fired 1999 ms after a
// forSeconds 2 excursion began). The timer is stepped here with vitest's fake
// timers and the alert's clock by the test, so the early wake is reproduced
// exactly instead of waited for.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Evaluator, type StateChange } from '../../../src/modules/alerts/evaluator.js'
import { deviceRule } from './support.js'

const rule = deviceRule({ kind: 'threshold', operator: '>', threshold: 250, forSeconds: 2 })

describe('the pending timer', () => {
  let evaluator: Evaluator
  let clock = 0
  const changes: StateChange[] = []
  const states = () => changes.map((c) => `${c.to}@${c.at.getTime()}`)

  beforeEach(() => {
    vi.useFakeTimers()
    clock = 0
    changes.length = 0
    evaluator = new Evaluator(
      (c) => changes.push(c),
      () => clock,
    )
    evaluator.watch(rule)
  })
  afterEach(() => {
    evaluator.stop()
    vi.useRealTimers()
  })

  it('fires when forSeconds have passed on the alert’s clock, with no further reading', () => {
    evaluator.deviceReadings('printer', { temperature: 260 })
    clock = 2000
    vi.advanceTimersByTime(2000)
    expect(states()).toEqual(['pending@0', 'firing@2000'])
  })

  it('a timer that wakes before the alert’s clock reaches forSeconds waits for the rest', () => {
    evaluator.deviceReadings('printer', { temperature: 260 })
    clock = 1999
    vi.advanceTimersByTime(2000)
    expect(states()).toEqual(['pending@0'])
    clock = 2000
    vi.advanceTimersByTime(1)
    expect(states()).toEqual(['pending@0', 'firing@2000'])
  })

  it('does not fire when the last reading no longer holds', () => {
    evaluator.deviceReadings('printer', { temperature: 260 })
    clock = 1000
    evaluator.deviceReadings('printer', { temperature: 200 })
    clock = 2000
    vi.advanceTimersByTime(2000)
    expect(states()).toEqual(['pending@0', 'ok@1000'])
  })
})
