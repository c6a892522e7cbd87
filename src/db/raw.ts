// SQL text for the statements written once per busy batch (a claim of 100
// due tasks, the end of 100 runs): built as text with `?` placeholders and run
// past Kysely's query builder. With hundreds of parameters, building,
// transforming (camelCase) and compiling the query tree cost more than SQLite
// took to run it. Rows still come back through the plugins (camelCased).

import { CompiledQuery, type Kysely } from 'kysely'
import type { DbEngine } from './types.js'

/** Runs `text` (with `?` placeholders; numbered `$n` for PostgreSQL) and returns its rows. */
export async function rawQuery<R>(
  // biome-ignore lint/suspicious/noExplicitAny: any database or transaction; the rows are typed by the caller
  db: Kysely<any>,
  engine: DbEngine,
  text: string,
  params: readonly unknown[],
): Promise<R[]> {
  let n = 0
  const final = engine === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text
  return (await db.executeQuery<R>(CompiledQuery.raw(final, [...params]))).rows
}

/** `count` placeholders: `?, ?, ?`. */
export function placeholders(count: number): string {
  return Array(count).fill('?').join(', ')
}

/**
 * A placeholder PostgreSQL can type: inside VALUES or CASE it cannot infer
 * one, and an untyped parameter is text. SQLite needs no cast.
 */
export function typed(engine: DbEngine, type: 'timestamptz' | 'integer' | 'jsonb'): string {
  return engine === 'postgres' ? `cast(? as ${type})` : '?'
}

/** `(row), (row), ...`: `count` copies of one row of placeholders. */
export function rows(count: number, row: string): string {
  return Array(count).fill(row).join(', ')
}
