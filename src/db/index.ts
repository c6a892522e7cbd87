// Opens the database named by a URL (sqlite:///abs.db, sqlite::memory:,
// postgres://...) behind one Kysely instance, and runs the migrations.

import fs from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import {
  CamelCasePlugin,
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
} from 'kysely'
import pg from 'pg'
import { listenPostgres, type WatchChanges, watchSqliteFile } from './change-feed.js'
import { migrations } from './migrations/index.js'
import { engineTypes } from './migrations/types.js'
import type { Database, DB, DbEngine } from './types.js'

export interface DatabaseHandle {
  db: Database
  engine: DbEngine
  /** PostgreSQL: the schema every query runs in, when not the default search path. */
  schema?: string
  /** A cheap round trip, for /readyz. */
  ping(): Promise<void>
  /** Notices commits by other processes (see change-feed.ts). */
  watchChanges: WatchChanges
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  /** PostgreSQL only: run every query inside this schema (tests use one schema per file). */
  schema?: string
  poolSize?: number
}

export function engineOf(url: string): DbEngine {
  return url.startsWith('postgres://') || url.startsWith('postgresql://') ? 'postgres' : 'sqlite'
}

export function openDatabase(url: string, options: OpenDatabaseOptions = {}): DatabaseHandle {
  const engine = engineOf(url)
  if (engine === 'postgres') {
    // `?schema=name` in the URL keeps Myntrix's tables in that schema (created if missing).
    const parsed = new URL(url)
    const schemaParam = parsed.searchParams.get('schema')
    parsed.searchParams.delete('schema')
    const schema = options.schema ?? schemaParam ?? undefined
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw new Error(`invalid PostgreSQL schema name "${schema}": letters, digits and _ only`)
    }
    const connection = {
      connectionString: parsed.toString(),
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    }
    const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10 })
    // An idle client that loses its server emits 'error' on the pool; without a
    // listener that would end the process.
    pool.on('error', () => {})
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] })
    return {
      db,
      engine,
      ...(schema ? { schema } : {}),
      ping: async () => {
        await sql`select 1`.execute(db)
      },
      watchChanges: listenPostgres(connection),
      close: () => db.destroy(),
    }
  }

  const file = url === 'sqlite::memory:' ? ':memory:' : url.slice('sqlite://'.length)
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true })
  const sqlite = new SqliteDatabase(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('synchronous = NORMAL')
  // Several processes (or a second Myntrix) may share the file: wait for a lock
  // instead of failing at once with SQLITE_BUSY.
  sqlite.pragma('busy_timeout = 5000')
  const db = new Kysely<DB>({
    dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
    plugins: [new CamelCasePlugin()],
  })
  return {
    db,
    engine,
    ping: async () => {
      await sql`select 1`.execute(db)
    },
    // Only this process can reach an in-memory database.
    watchChanges: file === ':memory:' ? async () => null : watchSqliteFile(file, dataVersionOf(sqlite)),
    close: () => db.destroy(),
  }
}

/** PRAGMA data_version, prepared once: the change feed reads it after every burst of writes to the file. */
function dataVersionOf(sqlite: SqliteDatabase.Database): () => number {
  const stmt = sqlite.prepare('pragma data_version').pluck()
  return () => stmt.get() as number
}

/** How many prepared SQLite statements are kept for reuse (least recently used go first). */
const STATEMENT_CACHE_SIZE = 256

/**
 * Kysely prepares every query afresh, and on a busy loop (the scheduler's
 * per-second firings, telemetry writes) SQLite's prepare costs more than the
 * execution. Statements are reusable, so identical SQL text gets the one
 * already prepared; a statement still being iterated (a stream) is busy and
 * gets a fresh one instead.
 */
function withStatementCache(sqlite: SqliteDatabase.Database) {
  const cache = new Map<string, SqliteDatabase.Statement>()
  return {
    close: () => sqlite.close(),
    prepare(text: string): SqliteDatabase.Statement {
      const hit = cache.get(text)
      if (hit && !hit.busy) {
        // Re-insert so the Map's order is least recently used first.
        cache.delete(text)
        cache.set(text, hit)
        return hit
      }
      const stmt = sqlite.prepare(text)
      if (!hit) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string)
        cache.set(text, stmt)
      }
      return stmt
    },
  }
}

class StaticProvider implements MigrationProvider {
  constructor(private readonly engine: DbEngine) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const t = engineTypes(this.engine)
    return Object.fromEntries(Object.entries(migrations).map(([name, make]) => [name, make(t)]))
  }
}

/** Apply pending migrations; a second run is a no-op. Returns the names applied now. */
export async function migrate(handle: DatabaseHandle): Promise<string[]> {
  // The migrations are written in snake_case, so they run without the camelCase plugin.
  const raw = handle.db.withoutPlugins()
  const migrator = new Migrator({
    db: raw,
    provider: new StaticProvider(handle.engine),
    // Areas number their migrations in separate ranges and may land out of order.
    allowUnorderedMigrations: true,
    // Code-unit order, as the names are sorted when resolved. Kysely's default,
    // localeCompare, orders by the ICU locale's rules and loads its collation
    // data: 2 MB of resident memory (measured) for a process that compares nothing else.
    nameComparator: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
    migrationTableName: 'myntrix_migrations',
    migrationLockTableName: 'myntrix_migrations_lock',
    // Kysely looks for its tables in any schema unless told which; with several
    // Myntrix schemas in one database it would find another's and skip creating its own.
    ...(handle.schema ? { migrationTableSchema: handle.schema } : {}),
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw new Error(`database migration failed: ${(error as Error).message}`, { cause: error })
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
