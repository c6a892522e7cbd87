// The database engines a suite runs on: SQLite always, PostgreSQL when
// MYNTRIX_TEST_DATABASE_URL is set (global-setup.ts sets it to a fresh local
// database when a PostgreSQL answers on 127.0.0.1 and prints once which engines
// run). Each test database is fresh: a temporary SQLite file, or a new
// PostgreSQL schema dropped afterwards.

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { type DatabaseHandle, openDatabase } from '../../src/db/index.js'

export interface TestEngine {
  name: 'sqlite' | 'postgres'
  /** Create a fresh, empty database for one app (or several apps sharing it). */
  createDatabase(): Promise<TestDatabase>
}

export interface TestDatabase {
  url: string
  schema?: string
  /** A data dir that belongs to this database (JWT secret, logs, files). */
  dataDir: string
  /** Open a connection; call as often as needed (a "restart" opens a new one). */
  open(): DatabaseHandle
  drop(): Promise<void>
}

export const pgUrl = process.env.MYNTRIX_TEST_DATABASE_URL

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

const sqliteEngine: TestEngine = {
  name: 'sqlite',
  async createDatabase() {
    const dataDir = tempDir('myntrix-test-')
    const url = `sqlite://${path.join(dataDir, 'myntrix.db')}`
    return {
      url,
      dataDir,
      open: () => openDatabase(url),
      drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    }
  },
}

const postgresEngine = (url: string): TestEngine => ({
  name: 'postgres',
  async createDatabase() {
    const schema = `t_${randomBytes(6).toString('hex')}`
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(`create schema ${schema}`)
    await client.end()
    const dataDir = tempDir('myntrix-test-')
    const withSchema = new URL(url)
    withSchema.searchParams.set('schema', schema)
    return {
      // The URL names the schema, so a server started as its own process uses it too.
      url: withSchema.toString(),
      schema,
      dataDir,
      open: () => openDatabase(withSchema.toString(), { poolSize: 5 }),
      drop: async () => {
        const c = new pg.Client({ connectionString: url })
        await c.connect()
        await c.query(`drop schema if exists ${schema} cascade`)
        await c.end()
        fs.rmSync(dataDir, { recursive: true, force: true })
      },
    }
  },
})

/** SQLite always, first; PostgreSQL too when MYNTRIX_TEST_DATABASE_URL is set. */
export function testEngines(): [TestEngine, ...TestEngine[]] {
  return pgUrl ? [sqliteEngine, postgresEngine(pgUrl)] : [sqliteEngine]
}
