// Runs once per `npm test`, before any test file. Decides which database
// engines the suites run on and says so once:
// - MYNTRIX_TEST_DATABASE_URL set: SQLite and that PostgreSQL (CI sets it).
// - unset, but a PostgreSQL answers on 127.0.0.1:5432 as user postgres: a
//   fresh database is created on it for this run and dropped afterwards, so a
//   developer with a local server gets the same coverage as CI without setup.
// - neither: SQLite only, and the PostgreSQL runs skip with this reason.
// The URL reaches the test workers through the environment they inherit.

import { randomBytes } from 'node:crypto'
import pg from 'pg'

const LOCAL_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

async function createLocalDatabase(): Promise<
  { url: string; drop: () => Promise<void> } | { reason: string }
> {
  const name = `myntrix_test_${randomBytes(5).toString('hex')}`
  const admin = new pg.Client({ connectionString: LOCAL_ADMIN_URL, connectionTimeoutMillis: 1500 })
  try {
    await admin.connect()
    await admin.query(`create database ${name}`)
  } catch (err) {
    await admin.end().catch(() => {})
    return { reason: `no PostgreSQL usable at 127.0.0.1:5432 (${(err as Error).message})` }
  }
  await admin.end()
  const url = `postgres://postgres@127.0.0.1:5432/${name}`
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: LOCAL_ADMIN_URL })
      await c.connect()
      // A test that left a connection open must not keep the database alive.
      await c.query(`drop database if exists ${name} with (force)`)
      await c.end()
    },
  }
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.MYNTRIX_TEST_DATABASE_URL
  if (given) {
    console.log(`[myntrix tests] engines: sqlite, postgres (${redact(given)} from MYNTRIX_TEST_DATABASE_URL)`)
    return undefined
  }
  const local = await createLocalDatabase()
  if ('reason' in local) {
    console.log(`[myntrix tests] engines: sqlite only; PostgreSQL runs skip: ${local.reason}`)
    return undefined
  }
  process.env.MYNTRIX_TEST_DATABASE_URL = local.url
  console.log(
    `[myntrix tests] engines: sqlite, postgres (local server, fresh database ${local.url}, dropped afterwards)`,
  )
  return async () => {
    delete process.env.MYNTRIX_TEST_DATABASE_URL
    await local.drop()
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}
