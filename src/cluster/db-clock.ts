// Lease and membership times are the database's, not the node's: every node
// compares against one clock, so a node whose own clock is off can neither
// keep a lease too long nor take one too early. On PostgreSQL that clock is
// statement_timestamp(); on SQLite (one host, one clock) the time of the
// statement, written in the ISO-8601 text form every timestamp there has.

import type { DbEngine } from '../db/types.js'

/** SQL for "now" on the database clock. */
export function dbNow(engine: DbEngine): string {
  return engine === 'postgres' ? 'statement_timestamp()' : "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
}

/** SQL for "now + ? milliseconds" (one placeholder: the milliseconds). */
export function dbNowPlusMs(engine: DbEngine): string {
  return engine === 'postgres'
    ? "(statement_timestamp() + cast(? as integer) * interval '1 millisecond')"
    : "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || (cast(? as real) / 1000.0) || ' seconds')"
}

/** SQL for "`column` + ? milliseconds" (one placeholder: the milliseconds). */
export function dbPlusMs(engine: DbEngine, column: string): string {
  return engine === 'postgres'
    ? `(${column} + cast(? as integer) * interval '1 millisecond')`
    : `strftime('%Y-%m-%dT%H:%M:%fZ', ${column}, '+' || (cast(? as real) / 1000.0) || ' seconds')`
}
