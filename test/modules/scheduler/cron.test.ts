import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../../src/errors.js'
import {
  nextAfter,
  parseSchedule,
  preview,
  scheduleErrors,
  validateTimezone,
} from '../../../src/modules/scheduler/cron.js'

const iso = (d: Date | null) => d?.toISOString() ?? null
const series = (expr: string, zone: string, from: string, n: number) =>
  preview(expr, zone, n, new Date(from)).map((d) => d.toISOString())

describe('parseSchedule', () => {
  it('accepts 5 and 6 fields and keeps the expression as written', () => {
    expect(parseSchedule('*/5 * * * *')).toMatchObject({
      expression: '*/5 * * * *',
      pattern: '0 */5 * * * *',
      hasSeconds: false,
    })
    expect(parseSchedule('  */10   * * * * * ')).toMatchObject({
      expression: '*/10 * * * * *',
      hasSeconds: true,
    })
    expect(parseSchedule('0 9 * JAN-MAR mon-fri').pattern).toBe('0 0 9 * JAN-MAR mon-fri')
    expect(parseSchedule('0 0 L * *').pattern).toBe('0 0 0 L * *')
    expect(parseSchedule('0 0 * * 5#L').pattern).toBe('0 0 0 * * 5#L')
  })

  it('accepts nicknames, case-insensitively', () => {
    expect(parseSchedule('@hourly').pattern).toBe('0 0 * * * *')
    expect(parseSchedule('@DAILY').pattern).toBe('0 0 0 * * *')
    expect(parseSchedule('@midnight').pattern).toBe('0 0 0 * * *')
    expect(parseSchedule('@weekly').pattern).toBe('0 0 0 * * 0')
    expect(parseSchedule('@monthly').pattern).toBe('0 0 0 1 * *')
    expect(parseSchedule('@yearly').pattern).toBe(parseSchedule('@annually').pattern)
  })

  it('turns "?" into "*" in the day fields (croner would use the current time)', () => {
    expect(parseSchedule('0 0 ? * MON').pattern).toBe('0 0 0 * * MON')
    expect(parseSchedule('0 0 1 * ?').pattern).toBe('0 0 0 1 * *')
  })

  it('marks schedules that run in every hour (DST rules)', () => {
    expect(parseSchedule('*/30 * * * *').firesEveryHour).toBe(true)
    expect(parseSchedule('0 */2 * * *').firesEveryHour).toBe(true)
    expect(parseSchedule('@hourly').firesEveryHour).toBe(true)
    expect(parseSchedule('30 2 * * *').firesEveryHour).toBe(false)
    expect(parseSchedule('0 1-23 * * *').firesEveryHour).toBe(false)
  })

  const bad: Array<[unknown, string]> = [
    ['61 * * * *', 'minute field: 61 is out of range 0-59'],
    ['70 * * * * *', 'second field: 70 is out of range 0-59'],
    ['0 61 * * * *', 'minute field: 61 is out of range 0-59'],
    ['* 24 * * *', 'hour field: 24 is out of range 0-23'],
    ['* * 0 * *', 'day-of-month field: 0 is out of range 1-31'],
    ['* * 32 * *', 'day-of-month field: 32 is out of range 1-31'],
    ['* * * 13 *', 'month field: 13 is out of range 1-12'],
    ['* * * * 8', 'day-of-week field: 8 is out of range 0-7'],
    ['* * * FOO *', 'month field: "FOO" is neither a number 1-12 nor a name'],
    ['* * * * FUNDAY', 'day-of-week field: "FUNDAY" is neither a number 0-7 nor a name'],
    ['x * * * *', 'minute field: "x" is not a number 0-59'],
    ['1.5 * * * *', 'minute field: "1.5" is not a number 0-59'],
    ['-1 * * * *', 'minute field: "-1" is not a range like 1-5'],
    ['20-10 * * * *', 'minute field: range 20-10 runs backwards'],
    ['*/0 * * * *', 'minute field: step "0" must be a whole number from 1 to 60'],
    ['*/61 * * * *', 'minute field: step "61" must be a whole number from 1 to 60'],
    ['1/2/3 * * * *', 'minute field: "1/2/3" has more than one /'],
    ['1,,2 * * * *', 'minute field: has an empty list entry'],
    ['? * * * *', 'minute field: "?" is only allowed in the day-of-month and day-of-week fields'],
    ['0 0 * * 5L', 'day-of-week field: "5L" is not supported; write 5#L'],
    ['0 0 * * 5#6', 'day-of-week field: "5#6": the occurrence after # must be 1-5 or L'],
    ['0 0 15W * *', 'day-of-month field: "15W" is not a number 1-31'],
    ['* * * *', 'has 4 fields; expected 5'],
    ['* * * * * * *', 'has 7 fields; expected 5'],
    ['@every', 'unknown nickname "@every"'],
    ['@reboot', 'unknown nickname "@reboot"'],
    ['0 0 30 2 *', 'never matches a date'],
    ['', 'must be a cron expression'],
    ['   ', 'must be a cron expression'],
    [42, 'must be a cron expression such as "*/5 * * * *", got 42'],
    [null, 'got null'],
  ]
  it.each(bad)('rejects %j naming the problem', (expr, message) => {
    const errors = scheduleErrors(expr)
    expect(errors).toHaveLength(1)
    expect(errors[0]?.path).toBe('schedule')
    expect(errors[0]?.message).toContain(message)
    expect(() => parseSchedule(expr)).toThrow(ValidationError)
  })

  it('uses the given path in errors', () => {
    expect(scheduleErrors('61 * * * *', 'query.schedule')[0]?.path).toBe('query.schedule')
  })
})

describe('validateTimezone', () => {
  it('returns the canonical name', () => {
    expect(validateTimezone('UTC')).toBe('UTC')
    expect(validateTimezone('utc')).toBe('UTC')
    expect(validateTimezone('Europe/Berlin')).toBe('Europe/Berlin')
    expect(validateTimezone('America/New_York')).toBe('America/New_York')
  })

  it.each([['Mars/Olympus'], ['+02:00'], ['Europe/Berlin; drop table'], [''], [12], [undefined]])(
    'rejects %j',
    (zone) => {
      let error: unknown
      try {
        validateTimezone(zone)
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).errors?.[0]?.path).toBe('timezone')
    },
  )
})

describe('nextAfter', () => {
  it('is strictly after the given time', () => {
    expect(iso(nextAfter('* * * * * *', 'UTC', new Date('2026-01-01T00:00:00.000Z')))).toBe(
      '2026-01-01T00:00:01.000Z',
    )
    expect(iso(nextAfter('* * * * * *', 'UTC', new Date('2026-01-01T00:00:00.500Z')))).toBe(
      '2026-01-01T00:00:01.000Z',
    )
    expect(iso(nextAfter('0 * * * *', 'UTC', new Date('2026-01-01T00:00:00.000Z')))).toBe(
      '2026-01-01T01:00:00.000Z',
    )
  })

  it('computes in the task time zone', () => {
    expect(iso(nextAfter('0 9 * * *', 'Asia/Tokyo', new Date('2025-12-31T23:00:00Z')))).toBe(
      '2026-01-01T00:00:00.000Z',
    )
    expect(iso(nextAfter('0 9 * * *', 'America/New_York', new Date('2026-01-01T00:00:00Z')))).toBe(
      '2026-01-01T14:00:00.000Z',
    )
    expect(iso(nextAfter('0 9 * * *', 'America/New_York', new Date('2026-07-01T00:00:00Z')))).toBe(
      '2026-07-01T13:00:00.000Z',
    )
  })

  it('handles leap days and last-day-of-month', () => {
    expect(series('0 0 29 2 *', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ])
    expect(series('0 0 L * *', 'UTC', '2026-01-15T00:00:00Z', 2)).toEqual([
      '2026-01-31T00:00:00.000Z',
      '2026-02-28T00:00:00.000Z',
    ])
  })

  it('ORs day-of-month and day-of-week when both are given (Vixie cron)', () => {
    // 2026-02-01 is a Sunday, the 2nd a Monday.
    expect(series('0 0 1 * MON', 'UTC', '2026-01-31T12:00:00Z', 3)).toEqual([
      '2026-02-01T00:00:00.000Z',
      '2026-02-02T00:00:00.000Z',
      '2026-02-09T00:00:00.000Z',
    ])
  })

  describe('daylight saving time', () => {
    it('autumn: an every-hour task fires in both passes of the repeated hour', () => {
      // Europe/Berlin leaves CEST (+2) for CET (+1) at 2026-10-25T01:00Z.
      expect(series('*/30 * * * *', 'Europe/Berlin', '2026-10-24T23:50:00Z', 6)).toEqual([
        '2026-10-25T00:00:00.000Z', // 02:00 CEST
        '2026-10-25T00:30:00.000Z', // 02:30 CEST
        '2026-10-25T01:00:00.000Z', // 02:00 CET
        '2026-10-25T01:30:00.000Z', // 02:30 CET
        '2026-10-25T02:00:00.000Z', // 03:00 CET
        '2026-10-25T02:30:00.000Z',
      ])
      expect(series('*/30 * * * *', 'America/New_York', '2026-11-01T05:10:00Z', 4)).toEqual([
        '2026-11-01T05:30:00.000Z', // 01:30 EDT
        '2026-11-01T06:00:00.000Z', // 01:00 EST
        '2026-11-01T06:30:00.000Z', // 01:30 EST
        '2026-11-01T07:00:00.000Z', // 02:00 EST
      ])
    })

    it('autumn: a fixed-time task fires once, the first time', () => {
      expect(series('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2)).toEqual([
        '2026-10-25T00:30:00.000Z', // 02:30 CEST; 02:30 CET is skipped
        '2026-10-26T01:30:00.000Z',
      ])
      // Asked from between the two passes, the second is still skipped.
      expect(iso(nextAfter('30 2 * * *', 'Europe/Berlin', new Date('2026-10-25T01:10:00Z')))).toBe(
        '2026-10-26T01:30:00.000Z',
      )
    })

    it('spring: a fixed-time task in the missing hour fires at the jump', () => {
      // Europe/Berlin jumps from 02:00 CET to 03:00 CEST at 2026-03-29T01:00Z.
      expect(series('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 2)).toEqual([
        '2026-03-29T01:00:00.000Z',
        '2026-03-30T00:30:00.000Z',
      ])
      expect(iso(nextAfter('0 2 * * *', 'America/New_York', new Date('2026-03-08T00:00:00Z')))).toBe(
        '2026-03-08T07:00:00.000Z',
      )
    })

    it('spring: an every-hour task skips the missing times', () => {
      expect(series('*/30 * * * *', 'Europe/Berlin', '2026-03-29T00:10:00Z', 3)).toEqual([
        '2026-03-29T00:30:00.000Z', // 01:30 CET
        '2026-03-29T01:00:00.000Z', // 03:00 CEST
        '2026-03-29T01:30:00.000Z',
      ])
    })

    it('handles half-hour shifts (Lord Howe)', () => {
      // Australia/Lord_Howe goes from +11 to +10:30 on 2026-04-05 at 02:00 local.
      expect(series('0 0 * * *', 'Australia/Lord_Howe', '2026-04-04T00:00:00Z', 2)).toEqual([
        '2026-04-04T13:00:00.000Z',
        '2026-04-05T13:30:00.000Z',
      ])
    })
  })

  it('gives the same answer for the same input (every process computes the same next time)', () => {
    const due = new Date('2026-05-01T10:00:05.000Z')
    const a = nextAfter('*/5 * * * * *', 'Europe/Berlin', due)
    const b = nextAfter(parseSchedule('*/5 * * * * *'), 'Europe/Berlin', due)
    expect(iso(a)).toBe('2026-05-01T10:00:10.000Z')
    expect(iso(b)).toBe(iso(a))
  })

  it('throws on an invalid expression or date', () => {
    expect(() => nextAfter('61 * * * *', 'UTC', new Date())).toThrow(ValidationError)
    expect(() => nextAfter('* * * * *', 'UTC', new Date('nope'))).toThrow(TypeError)
  })
})

describe('preview', () => {
  it('lists the next N times', () => {
    expect(series('0 12 * * *', 'UTC', '2026-01-01T13:00:00Z', 3)).toEqual([
      '2026-01-02T12:00:00.000Z',
      '2026-01-03T12:00:00.000Z',
      '2026-01-04T12:00:00.000Z',
    ])
    expect(preview('* * * * *', 'UTC', 0)).toEqual([])
  })
})
