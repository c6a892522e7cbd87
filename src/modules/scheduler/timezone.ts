// IANA time zones for the scheduler: validation, UTC offsets and the instants
// where an offset changes (DST). Cron matching itself runs on wall-clock time
// (see cron.ts); this file maps wall-clock time back to real instants.
//
// Intl is the only zone database Node ships. Creating an Intl.DateTimeFormat
// costs ~100 us, formatting with one ~3 us, so formatters and the transitions
// of each zone-year are memoised below. These caches hold pure, derived data
// (the same input always gives the same output) and are bounded by the number
// of IANA zones, so they are not state: a restart or another process computes
// the same values.

import { ValidationError } from '../../errors.js'

const formatters = new Map<string, Intl.DateTimeFormat>()
const transitionsByZoneYear = new Map<string, Transition[]>()

/** An instant where a zone's UTC offset changes. */
export interface Transition {
  /** First millisecond (epoch) that has the new offset. */
  at: number
  offsetBeforeMs: number
  offsetAfterMs: number
}

/** A stretch of time with one UTC offset: [startMs, endMs). */
export interface OffsetSegment {
  startMs: number
  endMs: number
  offsetMs: number
  /** Offset just before startMs (equals offsetMs when there is no known start). */
  previousOffsetMs: number
}

const ZONE_SHAPE = /^[A-Za-z][A-Za-z0-9_+\-/]*$/

function isUtc(zone: string): boolean {
  return zone === 'UTC' || zone === 'Etc/UTC'
}

/**
 * Checks an IANA zone name and returns its canonical spelling (`utc` -> `UTC`).
 * Offsets such as `+02:00` are refused: they have no DST rules, and Node 20's
 * Intl rejects them while newer versions accept them, so accepting them would
 * make behaviour depend on the Node version.
 */
export function validateTimezone(zone: unknown, path = 'timezone'): string {
  if (typeof zone !== 'string' || zone.trim() === '') {
    throw new ValidationError(`${path} must be an IANA time zone name such as "Europe/Berlin"`, [
      {
        path,
        message: `must be an IANA time zone name such as "Europe/Berlin", got ${JSON.stringify(zone)}`,
      },
    ])
  }
  const trimmed = zone.trim()
  let canonical: string | undefined
  if (ZONE_SHAPE.test(trimmed)) {
    try {
      canonical = new Intl.DateTimeFormat('en-US', { timeZone: trimmed }).resolvedOptions().timeZone
    } catch {
      canonical = undefined
    }
  }
  if (!canonical) {
    const message = `unknown time zone "${trimmed}"; use an IANA name such as "UTC" or "America/New_York"`
    throw new ValidationError(`${path}: ${message}`, [{ path, message }])
  }
  return canonical
}

function formatterFor(zone: string): Intl.DateTimeFormat {
  let fmt = formatters.get(zone)
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(zone, fmt)
  }
  return fmt
}

/** UTC offset of `zone` at instant `ms`, in milliseconds (east of Greenwich is positive). */
export function offsetAt(zone: string, ms: number): number {
  if (isUtc(zone)) return 0
  const parts = formatterFor(zone).formatToParts(ms)
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value)
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return wall - Math.floor(ms / 1000) * 1000
}

const SAMPLE_STEP_MS = 6 * 3600_000

function transitionsInYear(zone: string, year: number): Transition[] {
  const key = `${zone}\u0000${year}`
  const cached = transitionsByZoneYear.get(key)
  if (cached) return cached
  const found: Transition[] = []
  const from = Date.UTC(year, 0, 1)
  const to = Date.UTC(year + 1, 0, 1)
  let prevMs = from
  let prevOffset = offsetAt(zone, from)
  // Offsets change at most a few times a year and never twice within 6 hours,
  // so sampling every 6 hours and bisecting each change finds every transition.
  for (let t = from + SAMPLE_STEP_MS; t <= to; t += SAMPLE_STEP_MS) {
    const offset = offsetAt(zone, t)
    if (offset !== prevOffset) {
      let lo = prevMs
      let hi = t
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2)
        if (offsetAt(zone, mid) === prevOffset) lo = mid
        else hi = mid
      }
      if (hi < to) found.push({ at: hi, offsetBeforeMs: prevOffset, offsetAfterMs: offset })
    }
    prevMs = t
    prevOffset = offset
  }
  transitionsByZoneYear.set(key, found)
  return found
}

/** The constant-offset segment of `zone` that contains instant `ms`. */
export function segmentAt(zone: string, ms: number): OffsetSegment {
  if (isUtc(zone)) {
    return { startMs: -Infinity, endMs: Infinity, offsetMs: 0, previousOffsetMs: 0 }
  }
  const year = new Date(ms).getUTCFullYear()
  // A year back and two ahead: far enough for any zone's next/previous change.
  const transitions = [year - 1, year, year + 1, year + 2].flatMap((y) => transitionsInYear(zone, y))
  let start: Transition | undefined
  let end: Transition | undefined
  for (const tr of transitions) {
    if (tr.at <= ms) start = tr
    else {
      end = tr
      break
    }
  }
  const offsetMs = offsetAt(zone, ms)
  return {
    startMs: start ? start.at : -Infinity,
    endMs: end ? end.at : Infinity,
    offsetMs,
    previousOffsetMs: start ? start.offsetBeforeMs : offsetMs,
  }
}
