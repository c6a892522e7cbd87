import type { Kysely, Migration } from 'kysely'
import type { DbEngine } from '../types.js'

/** Column types that differ between the engines. */
export interface EngineTypes {
  engine: DbEngine
  time: 'timestamptz' | 'text'
  json: 'jsonb' | 'text'
  bool: 'boolean' | 'integer'
  bigint: 'bigint' | 'integer'
  double: 'double precision'
}

export function engineTypes(engine: DbEngine): EngineTypes {
  return engine === 'postgres'
    ? {
        engine,
        time: 'timestamptz',
        json: 'jsonb',
        bool: 'boolean',
        bigint: 'bigint',
        double: 'double precision',
      }
    : { engine, time: 'text', json: 'text', bool: 'integer', bigint: 'integer', double: 'double precision' }
}

/** A migration written once for both engines; it receives the engine's column types. */
export type MyntrixMigration = (t: EngineTypes) => Migration

// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema, not the typed tables
export type MigrationDb = Kysely<any>
