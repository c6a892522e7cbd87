// The scheduler's environment settings: numbers in range, or a start-up error naming the variable.

import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config/index.js'
import { ConfigError } from '../../../src/errors.js'

const historyDays = (env: Record<string, string>) => loadConfig(env).scheduler.historyDays

describe('scheduler settings', () => {
  it('reads the engine tuning, leaving unset values to the engine defaults', () => {
    const config = loadConfig({ MYNTRIX_HEARTBEAT_MS: '2000' })
    expect(config.scheduler).toMatchObject({ maxSleepMs: undefined, maxLogChars: undefined })
    expect(config.heartbeatMs).toBe(2000)
  })

  it('keeps the whole history unless MYNTRIX_SCHEDULER_HISTORY_DAYS is a positive number of days', () => {
    expect(historyDays({})).toBeUndefined()
    expect(historyDays({ MYNTRIX_SCHEDULER_HISTORY_DAYS: '' })).toBeUndefined()
    expect(historyDays({ MYNTRIX_SCHEDULER_HISTORY_DAYS: '0' })).toBeUndefined()
    expect(historyDays({ MYNTRIX_SCHEDULER_HISTORY_DAYS: ' 30 ' })).toBe(30)
  })

  it.each(['-1', '1.5', 'week', '36501'])(
    'refuses MYNTRIX_SCHEDULER_HISTORY_DAYS=%s at start-up',
    (value) => {
      expect(() => historyDays({ MYNTRIX_SCHEDULER_HISTORY_DAYS: value })).toThrow(ConfigError)
      expect(() => historyDays({ MYNTRIX_SCHEDULER_HISTORY_DAYS: value })).toThrow(
        /MYNTRIX_SCHEDULER_HISTORY_DAYS: must be an integer between 0 and 36500/,
      )
    },
  )

  it('says at start-up that MYNTRIX_SCHEDULER_CLAIM_AHEAD_MS is ignored', () => {
    expect(loadConfig({ MYNTRIX_SCHEDULER_CLAIM_AHEAD_MS: '500' }).warnings).toEqual([
      'MYNTRIX_SCHEDULER_CLAIM_AHEAD_MS is no longer used and is ignored',
    ])
  })
})
