// Parsing of the history query (`window`, `from`, `to`, `step`) into a
// concrete range. Bad values throw ValidationError (400) naming the field.

import { ValidationError } from '../../errors.js'

export interface HistoryQuery {
  window?: string
  from?: string
  to?: string
  step?: string
}

export interface HistoryRange {
  fromMs: number
  toMs: number
  stepMs: number
}

const UNIT_MS = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const
type Unit = keyof typeof UNIT_MS

/** Longest range one query may span. */
export const MAX_RANGE_MS = 400 * UNIT_MS.d
/** Most buckets one answer may hold. */
export const MAX_POINTS = 10_000
/** When no step is given, the step is chosen so a window yields at most this many points. */
export const DEFAULT_POINTS = 900
/** Steps the default picks from, so bucket edges fall on round times. */
const NICE_STEPS_MS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
].map((s) => s * 1000)

function invalid(path: string, message: string, value: string): never {
  throw new ValidationError(`${path} ${message}, got "${value}"`, [{ path, message }])
}

/** `15m`, `1h`, `30s`, `7d`, `2w`, `500ms`; a bare number means seconds. */
export function parseDuration(value: string, path: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(value.trim())
  if (!match) invalid(path, 'must be a duration such as 30s, 15m, 1h or 7d', value)
  const ms = Number(match[1]) * UNIT_MS[(match[2] ?? 's') as Unit]
  if (!(ms > 0)) invalid(path, 'must be greater than zero', value)
  return Math.round(ms)
}

/** The largest time a JavaScript Date holds (±100,000,000 days from 1970); beyond it no ISO text exists. */
const MAX_INSTANT_MS = 8.64e15

/** An ISO-8601 date-time, or epoch milliseconds. */
export function parseInstant(value: string, path: string): number {
  const trimmed = value.trim()
  const ms = /^\d+$/.test(trimmed)
    ? Number(trimmed)
    : /^\d{4}-\d{2}-\d{2}/.test(trimmed)
      ? Date.parse(trimmed)
      : Number.NaN
  if (!Number.isFinite(ms)) invalid(path, 'must be an ISO-8601 date-time or epoch milliseconds', value)
  if (Math.abs(ms) > MAX_INSTANT_MS) {
    invalid(
      path,
      'must be a time between the years -271821 and 275760 (epoch milliseconds up to 8.64e15)',
      value,
    )
  }
  return ms
}

/** The smallest round step >= minStepMs giving at most DEFAULT_POINTS buckets. */
export function defaultStepMs(rangeMs: number, minStepMs: number): number {
  const wanted = Math.max(minStepMs, Math.ceil(rangeMs / DEFAULT_POINTS))
  return NICE_STEPS_MS.find((s) => s >= wanted) ?? Math.ceil(wanted / 86_400_000) * 86_400_000
}

/**
 * Turns the query into a range, or null when it asks for no history.
 * `window` counts back from `to` (default now) and cannot be combined with
 * `from`; `to` or `step` alone mean the last hour.
 */
export function resolveHistoryRange(
  query: HistoryQuery,
  nowMs: number,
  minStepMs = 1000,
): HistoryRange | null {
  const { window, from, to, step } = query
  if (window === undefined && from === undefined && to === undefined && step === undefined) return null
  if (window !== undefined && from !== undefined) {
    throw new ValidationError('give either window or from, not both', [
      { path: 'window', message: 'cannot be combined with from' },
    ])
  }
  const toMs = to === undefined ? nowMs : parseInstant(to, 'to')
  let fromMs: number
  if (from !== undefined) fromMs = parseInstant(from, 'from')
  else fromMs = toMs - (window === undefined ? UNIT_MS.h : parseDuration(window, 'window'))
  if (fromMs >= toMs) {
    throw new ValidationError(`from must be before to, got ${new Date(fromMs).toISOString()}`, [
      { path: from !== undefined ? 'from' : 'window', message: 'must be before to' },
    ])
  }
  const rangeMs = toMs - fromMs
  if (rangeMs > MAX_RANGE_MS) {
    throw new ValidationError(`the range may span at most 400 days, got ${Math.ceil(rangeMs / UNIT_MS.d)}`, [
      { path: window !== undefined ? 'window' : 'from', message: 'may span at most 400d' },
    ])
  }
  const stepMs = step === undefined ? defaultStepMs(rangeMs, minStepMs) : parseDuration(step, 'step')
  if (stepMs < 1000) invalid('step', 'must be at least 1s', step ?? '')
  if (Math.ceil(rangeMs / stepMs) > MAX_POINTS) {
    throw new ValidationError(`step is too small: the range would hold more than ${MAX_POINTS} points`, [
      { path: 'step', message: `must give at most ${MAX_POINTS} points over the range` },
    ])
  }
  return { fromMs, toMs, stepMs }
}
