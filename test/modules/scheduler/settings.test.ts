// The scheduler's environment settings: numbers in range, or a start-up error naming the variable.

import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/errors.js'
import { engineTuningFrom, historyDaysFrom } from '../../../src/modules/scheduler/index.js'

describe('scheduler settings', () => {
  it('reads the engine tuning, leaving unset values to the engine defaults', () => {
    expect(engineTuningFrom({ MYNTRIX_SCHEDULER_HEARTBEAT_MS: '2000' })).toEqual({
      maxSleepMs: undefined,
      heartbeatMs: 2000,
      maxLogChars: undefined,
    })
  })

  it('keeps the whole history unless MYNTRIX_SCHEDULER_HISTORY_DAYS is a positive number of days', () => {
    expect(historyDaysFrom({})).toBeUndefined()
    expect(historyDaysFrom({ MYNTRIX_SCHEDULER_HISTORY_DAYS: '' })).toBeUndefined()
    expect(historyDaysFrom({ MYNTRIX_SCHEDULER_HISTORY_DAYS: '0' })).toBeUndefined()
    expect(historyDaysFrom({ MYNTRIX_SCHEDULER_HISTORY_DAYS: ' 30 ' })).toBe(30)
  })

  it.each(['-1', '1.5', 'week', '36501'])(
    'refuses MYNTRIX_SCHEDULER_HISTORY_DAYS=%s at start-up',
    (value) => {
      expect(() => historyDaysFrom({ MYNTRIX_SCHEDULER_HISTORY_DAYS: value })).toThrow(ConfigError)
      expect(() => historyDaysFrom({ MYNTRIX_SCHEDULER_HISTORY_DAYS: value })).toThrow(
        /MYNTRIX_SCHEDULER_HISTORY_DAYS: must be an integer between 0 and 36500/,
      )
    },
  )
})
