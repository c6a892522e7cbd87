import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../../src/errors.js'
import {
  DEFAULT_POINTS,
  defaultStepMs,
  parseDuration,
  parseInstant,
  resolveHistoryRange,
} from '../../../src/modules/monitoring/window.js'

const NOW = Date.parse('2025-06-01T12:00:00Z')

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError)
    return (error as ValidationError).errors?.[0]?.path
  }
  throw new Error('expected a ValidationError')
}

describe('parseDuration', () => {
  it.each([
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['30s', 30_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['500ms', 500],
    ['90', 90_000],
    ['1.5h', 5_400_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text, 'window')).toBe(ms)
  })

  it.each(['', 'abc', '-5m', '15 minutes', '1y', '0', '0s', 'm15', '1e3'])('rejects %j', (text) => {
    expect(fieldOf(() => parseDuration(text, 'window'))).toBe('window')
  })
})

describe('parseInstant', () => {
  it('reads ISO-8601 and epoch milliseconds', () => {
    expect(parseInstant('2025-06-01T12:00:00Z', 'from')).toBe(NOW)
    expect(parseInstant(String(NOW), 'from')).toBe(NOW)
  })

  it.each(['yesterday', '2025-13-45T99:00:00Z', '12:00', '-1', 'NaN'])('rejects %j', (text) => {
    expect(fieldOf(() => parseInstant(text, 'from'))).toBe('from')
  })
})

describe('resolveHistoryRange', () => {
  it('answers null when no history was asked for', () => {
    expect(resolveHistoryRange({}, NOW)).toBeNull()
  })

  it('counts a window back from now with a default step of at most DEFAULT_POINTS buckets', () => {
    expect(resolveHistoryRange({ window: '15m' }, NOW)).toEqual({
      fromMs: NOW - 900_000,
      toMs: NOW,
      stepMs: 1000,
    })
    const hour = resolveHistoryRange({ window: '1h' }, NOW)
    expect(hour).toEqual({ fromMs: NOW - 3_600_000, toMs: NOW, stepMs: 5000 })
    const week = resolveHistoryRange({ window: '7d' }, NOW)
    expect(week?.stepMs).toBe(900_000)
    expect(604_800_000 / (week?.stepMs ?? 1)).toBeLessThanOrEqual(DEFAULT_POINTS)
  })

  it('never picks a default step below the sample interval', () => {
    expect(resolveHistoryRange({ window: '5m' }, NOW, 60_000)?.stepMs).toBe(60_000)
    expect(defaultStepMs(60_000, 2000)).toBe(2000)
  })

  it('takes from/to/step as given', () => {
    expect(
      resolveHistoryRange({ from: '2025-06-01T10:00:00Z', to: '2025-06-01T11:00:00Z', step: '5m' }, NOW),
    ).toEqual({ fromMs: NOW - 7_200_000, toMs: NOW - 3_600_000, stepMs: 300_000 })
  })

  it('treats to or step alone as the last hour', () => {
    expect(resolveHistoryRange({ step: '1m' }, NOW)).toEqual({
      fromMs: NOW - 3_600_000,
      toMs: NOW,
      stepMs: 60_000,
    })
  })

  it('rejects window together with from', () => {
    expect(fieldOf(() => resolveHistoryRange({ window: '1h', from: String(NOW - 1000) }, NOW))).toBe('window')
  })

  it('rejects from at or after to', () => {
    expect(fieldOf(() => resolveHistoryRange({ from: String(NOW), to: String(NOW) }, NOW))).toBe('from')
    expect(fieldOf(() => resolveHistoryRange({ from: String(NOW + 1) }, NOW))).toBe('from')
  })

  it('rejects a range over 400 days', () => {
    expect(fieldOf(() => resolveHistoryRange({ window: '401d' }, NOW))).toBe('window')
  })

  it('rejects a step under one second or one giving too many points', () => {
    expect(fieldOf(() => resolveHistoryRange({ window: '1h', step: '500ms' }, NOW))).toBe('step')
    expect(fieldOf(() => resolveHistoryRange({ window: '7d', step: '1s' }, NOW))).toBe('step')
    expect(fieldOf(() => resolveHistoryRange({ window: '1h', step: 'fast' }, NOW))).toBe('step')
  })
})
