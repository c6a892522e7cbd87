// Cron expressions: validation with messages that name the bad field, and the
// next fire time in an IANA zone.
//
// `croner` does the parsing and the calendar search, but only ever in UTC
// (`utcOffset: 0`): on wall-clock time written as if it were UTC. With a
// `timezone` option croner 9 costs ~250 us per next-time (it builds Intl
// formatters on every step, against ~2 us in UTC) and it drops firings around
// DST changes (in Europe/Berlin, `*/30 * * * *` loses two of the four firings
// in the repeated hour). So the mapping from wall-clock time to instants is
// ours (timezone.ts), with Vixie cron's DST rules:
// - a wall-clock time that happens twice (autumn) fires twice when the task
//   runs every hour (hour field `*` or `*/n`), otherwise once, the first time;
// - a wall-clock time that never happens (spring) is dropped for tasks that run
//   every hour, and fires once at the jump for the others (`30 2 * * *`).
//
// No Cron object or timer is kept per task (a timer per task costs hundreds of
// MB and a fifth of a core idle at scale: docs/PERFORMANCE.md). Each call
// parses, computes and drops; parsing costs ~7 us.

import { Cron } from 'croner'
import { type FieldError, ValidationError } from '../../errors.js'
import { segmentAt, validateTimezone } from './timezone.js'

export { validateTimezone }

/** A validated schedule. Plain data: keep it, recompute from it, never a timer. */
export interface Schedule {
  /** The expression as the user wrote it (trimmed, single spaces). */
  expression: string
  /** Six-field pattern (seconds first) handed to croner. */
  pattern: string
  /** True when the expression has a seconds field. */
  hasSeconds: boolean
  /** The hour field is `*` or `*` with a step: the task runs in every hour (DST rules above). */
  firesEveryHour: boolean
}

interface FieldSpec {
  name: string
  min: number
  max: number
  names?: readonly string[]
  /** Value of names[0]; months count from 1, weekdays from 0. */
  namesFrom?: number
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 }
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 }
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 }
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31 }
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 }
// 7 is Sunday too, as in Vixie cron.
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 0, max: 7, names: WEEKDAYS, namesFrom: 0 }

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

const CRONER_OPTIONS = { utcOffset: 0, paused: true, legacyMode: true } as const

/** Thrown for a bad expression; `errors[0].path` is the request field (default `schedule`). */
function invalid(path: string, message: string): ValidationError {
  return new ValidationError(`${path}: ${message}`, [{ path, message }])
}

function parseValue(raw: string, spec: FieldSpec): number {
  if (/^\d+$/.test(raw)) {
    const value = Number(raw)
    if (value < spec.min || value > spec.max) {
      throw new Error(`${value} is out of range ${spec.min}-${spec.max}`)
    }
    return value
  }
  const index = spec.names?.indexOf(raw.toUpperCase() as never) ?? -1
  if (index >= 0) return index + (spec.namesFrom ?? 0)
  if (spec.names) {
    throw new Error(
      `"${raw}" is neither a number ${spec.min}-${spec.max} nor a name (${spec.names.join(', ')})`,
    )
  }
  throw new Error(`"${raw}" is not a number ${spec.min}-${spec.max}`)
}

function parseStep(raw: string, spec: FieldSpec): void {
  const span = spec.max - spec.min + 1
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > span) {
    throw new Error(`step "${raw}" must be a whole number from 1 to ${span}`)
  }
}

/** Validates one comma-separated item; returns its croner spelling. */
function checkItem(item: string, spec: FieldSpec): string {
  if (item === '') throw new Error('has an empty list entry (two commas, or a comma at an end)')
  if (spec === DAY_OF_MONTH && item === 'L') return item
  if (spec === DAY_OF_WEEK && item.includes('#')) {
    // item holds a #, so split yields both sides: the defaults only satisfy the type.
    const [day = '', nth = '', extra] = item.split('#')
    if (extra !== undefined) throw new Error(`"${item}" has more than one #`)
    parseValue(day, spec)
    if (!/^([1-5]|L)$/i.test(nth)) {
      throw new Error(`"${item}": the occurrence after # must be 1-5 or L (last), got "${nth}"`)
    }
    return item.toUpperCase()
  }
  if (spec === DAY_OF_WEEK && /^\w+L$/i.test(item)) {
    throw new Error(`"${item}" is not supported; write ${item.slice(0, -1)}#L for the last one of the month`)
  }
  const [base = '', step, extra] = item.split('/')
  if (extra !== undefined) throw new Error(`"${item}" has more than one /`)
  if (step !== undefined) parseStep(step, spec)
  if (base === '*') return item
  const [low = '', high, ...beyond] = base.split('-')
  if (beyond.length > 0) throw new Error(`"${base}" is not a range like 1-5`)
  if (high !== undefined) {
    if (low === '' || high === '') throw new Error(`"${base}" is not a range like 1-5`)
    const from = parseValue(low, spec)
    const to = parseValue(high, spec)
    // DAY_OF_WEEK's 7 (Sunday) may close a range such as MON-7.
    if (from > to) {
      throw new Error(`range ${base} runs backwards; split it, e.g. ${from}-${spec.max},${spec.min}-${to}`)
    }
    return item
  }
  parseValue(base, spec)
  return item
}

function checkField(raw: string, spec: FieldSpec): string {
  try {
    if (raw === '?') {
      // Quartz's "no specific value". croner would substitute the current time
      // (different in every process), so it becomes "*".
      if (spec === DAY_OF_MONTH || spec === DAY_OF_WEEK) return '*'
      throw new Error('"?" is only allowed in the day-of-month and day-of-week fields')
    }
    return raw
      .split(',')
      .map((item) => checkItem(item, spec))
      .join(',')
  } catch (err) {
    throw new Error(`${spec.name} field: ${(err as Error).message}`)
  }
}

/**
 * Validates a cron expression: five fields (minute hour day-of-month month
 * day-of-week), six with seconds first, or a nickname (`@hourly`, `@daily`,
 * `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`). Throws a
 * ValidationError whose message names the bad field.
 */
export function parseSchedule(expression: unknown, path = 'schedule'): Schedule {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw invalid(path, `must be a cron expression such as "*/5 * * * *", got ${JSON.stringify(expression)}`)
  }
  const normalized = expression.trim().replace(/\s+/g, ' ')
  let body = normalized
  if (normalized.startsWith('@')) {
    const nickname = NICKNAMES[normalized.toLowerCase()]
    if (!nickname) {
      throw invalid(
        path,
        `unknown nickname "${normalized}"; use one of ${Object.keys(NICKNAMES).join(', ')} or a 5/6-field expression`,
      )
    }
    body = nickname
  }
  const fields = body.split(' ')
  if (fields.length !== 5 && fields.length !== 6) {
    throw invalid(
      path,
      `"${normalized}" has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)`,
    )
  }
  const hasSeconds = fields.length === 6
  const specs = hasSeconds
    ? [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
    : [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
  let checked: string[]
  try {
    checked = fields.map((field, i) => {
      const spec = specs[i]
      // One spec per field: the field count was checked above.
      if (spec === undefined) throw new Error(`has more than ${specs.length} fields`)
      return checkField(field, spec)
    })
  } catch (err) {
    throw invalid(path, (err as Error).message)
  }
  if (!hasSeconds) checked.unshift('0')
  const pattern = checked.join(' ')
  let cron: Cron
  try {
    cron = new Cron(pattern, CRONER_OPTIONS)
  } catch (err) {
    // Our checks mirror croner's grammar; this is the backstop for anything they miss.
    throw invalid(path, `"${normalized}" is not a valid cron expression (${(err as Error).message})`)
  }
  try {
    if (cron.nextRun(new Date(Date.UTC(2000, 0, 1))) === null) {
      throw invalid(path, `"${normalized}" never matches a date (e.g. February 30)`)
    }
  } finally {
    cron.stop()
  }
  // checked now has croner's six fields: second, minute, hour, ...
  const [, , hour = ''] = checked
  return {
    expression: normalized,
    pattern,
    hasSeconds,
    firesEveryHour: hour === '*' || hour.startsWith('*/'),
  }
}

/** Field errors for an expression, or [] when it is valid. */
export function scheduleErrors(expression: unknown, path = 'schedule'): FieldError[] {
  try {
    parseSchedule(expression, path)
    return []
  } catch (err) {
    if (err instanceof ValidationError) return err.errors ?? [{ path, message: err.message }]
    throw err
  }
}

function nextWall(cron: Cron, wallMs: number): number | null {
  const next = cron.nextRun(new Date(wallMs))
  return next ? next.getTime() : null
}

/**
 * The first fire time strictly after `after`, or null when there is none.
 * Deterministic: every process computes the same value from the same input,
 * which the engine relies on when it computes from the due time.
 */
export function nextAfter(schedule: string | Schedule, zone: string, after: Date): Date | null {
  const parsed = typeof schedule === 'string' ? parseSchedule(schedule) : schedule
  return search(matcherFor(parsed), parsed.firesEveryHour, zone, after.getTime())
}

/**
 * One croner matcher per parsed schedule: building it re-parses the pattern,
 * which cost more than the search itself on every firing. A paused Cron with no
 * callback holds no timer, so keeping it costs only memory, freed with the Schedule.
 */
const matchers = new WeakMap<Schedule, Cron>()
function matcherFor(schedule: Schedule): Cron {
  let cron = matchers.get(schedule)
  if (!cron) {
    cron = new Cron(schedule.pattern, CRONER_OPTIONS)
    matchers.set(schedule, cron)
  }
  return cron
}

function search(cron: Cron, firesEveryHour: boolean, zone: string, afterMs: number): Date | null {
  if (Number.isNaN(afterMs)) throw new TypeError('nextAfter: invalid date')
  let segment = segmentAt(zone, afterMs)
  let fromMs = afterMs
  // Each pass covers one constant-offset segment (months long); a pattern that
  // matches at all matches within a few years, so 64 passes is plenty.
  for (let pass = 0; pass < 64; pass++) {
    const { startMs, endMs, offsetMs, previousOffsetMs } = segment
    // The wall-clock window at the start of a segment that repeats the
    // previous one (autumn change): [startMs + offsetMs, startMs + previousOffsetMs).
    const repeatedUntilWall = startMs + previousOffsetMs
    let cursor = fromMs + offsetMs
    for (;;) {
      const wall = nextWall(cron, cursor)
      if (wall === null) return null
      const at = wall - offsetMs
      if (at >= endMs) break
      if (!firesEveryHour && previousOffsetMs > offsetMs && wall < repeatedUntilWall) {
        // Already fired the first time this wall-clock time came round.
        cursor = repeatedUntilWall - 1
        continue
      }
      return new Date(at)
    }
    if (endMs === Infinity) return null
    const next = segmentAt(zone, endMs)
    if (!firesEveryHour && next.offsetMs > offsetMs) {
      // Spring change: wall-clock times in [endMs + offsetMs, endMs + next.offsetMs)
      // never happen; a fixed-time task due in that hour fires at the jump.
      const wall = nextWall(cron, endMs + offsetMs - 1)
      if (wall !== null && wall < endMs + next.offsetMs) return new Date(endMs)
    }
    fromMs = endMs - 1
    segment = next
  }
  return null
}

/** The next `count` fire times after `from` (for the dashboard's preview). */
export function preview(
  schedule: string | Schedule,
  zone: string,
  count: number,
  from: Date = new Date(),
): Date[] {
  const parsed = typeof schedule === 'string' ? parseSchedule(schedule) : schedule
  const times: Date[] = []
  let cursor: Date | null = from
  while (times.length < count && cursor) {
    cursor = nextAfter(parsed, zone, cursor)
    if (cursor) times.push(cursor)
  }
  return times
}
