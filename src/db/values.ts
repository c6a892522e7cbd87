// The two engines hand values back in different shapes: PostgreSQL gives Date
// for timestamptz, objects for jsonb, booleans and bigint strings; SQLite
// gives ISO text, JSON text, 0/1 and numbers. Repositories read and write
// through these helpers so domain code sees one shape.

/** Write a timestamp: ISO-8601 UTC text works for both engines. */
export function toDbTime(date: Date): string
export function toDbTime(date: Date | null | undefined): string | null
export function toDbTime(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null
}

export function fromDbTime(value: unknown): Date | null {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return value
  return new Date(String(value))
}

/** Read a timestamp for the API: ISO-8601 with Z, or null. */
export function isoOrNull(value: unknown): string | null {
  return fromDbTime(value)?.toISOString() ?? null
}

export function toDbJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value)
}

export function fromDbJson<T = Record<string, unknown>>(value: unknown): T | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return JSON.parse(value) as T
  return value as T
}

/** better-sqlite3 cannot bind JS booleans; 1/0 is accepted by PostgreSQL booleans too. */
export function toDbBool(value: boolean): number {
  return value ? 1 : 0
}

export function fromDbBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't'
}

export function fromDbInt(value: unknown): number {
  return typeof value === 'number' ? value : Number(value)
}

export function fromDbIntOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : fromDbInt(value)
}
