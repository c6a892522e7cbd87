// Times given in a query (`from`, `to`, `since`). The JSON Schema format
// `date-time` admits what `new Date()` cannot represent (the leap second
// `23:59:60`, hour 24), and an Invalid Date then fails deep in a query with a
// 500; every route parses its query times here so that such a time is a 400.

import { ValidationError } from './errors.js'

/** An ISO-8601 date-time as a Date; a ValidationError naming `path` when it is not one JavaScript can hold. */
export function parseQueryTime(value: string, path: string): Date {
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN
  if (!Number.isFinite(ms)) {
    throw new ValidationError(`${path} must be an ISO-8601 date-time, got "${value}"`, [
      {
        path,
        message:
          'must be an ISO-8601 date-time that exists (no leap second 23:59:60, years -271821 to 275760)',
      },
    ])
  }
  return new Date(ms)
}
