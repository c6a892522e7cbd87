// Builds the real app on a fresh test database, with users of each role and
// their tokens, and a small request helper over app.inject.

import type { InjectOptions } from 'fastify'
import { buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/config/index.js'
import type { DatabaseHandle } from '../../src/db/index.js'
import type { AppInstance } from '../../src/modules/area.js'
import type { TestDatabase, TestEngine } from './engines.js'

export const ADMIN_PASSWORD = 'admin-password-1'
export const USER_PASSWORD = 'user-password-1'

export interface TestUser {
  id: string
  username: string
  token: string
}

export interface TestResponse<T = any> {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: T
  text: string
}

export interface TestApp {
  app: AppInstance
  database: DatabaseHandle
  testDb: TestDatabase
  config: Config
  admin: TestUser
  /** Two operators, to test owner scoping. */
  operator: TestUser
  operator2: TestUser
  viewer: TestUser
  request<T = any>(
    method: InjectOptions['method'],
    url: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string>; as?: TestUser },
  ): Promise<TestResponse<T>>
  /** Close the app and its database connection; the database itself stays (see dropDb). */
  close(): Promise<void>
  /** Close, then drop the test database. */
  dispose(): Promise<void>
}

const open = new Set<TestApp>()

export function openTestApps(): TestApp[] {
  return [...open]
}

export interface TestAppOptions {
  /** Reuse a database (e.g. to "restart" the server on it). */
  testDb?: TestDatabase
  env?: Record<string, string>
  /** Create the operator/viewer users (default true). Skip on a restarted app: they exist. */
  seedUsers?: boolean
  /** The built console the app serves at / (default: web/dist of this repository). */
  consoleDir?: string
}

export async function createTestApp(engine: TestEngine, options: TestAppOptions = {}): Promise<TestApp> {
  const testDb = options.testDb ?? (await engine.createDatabase())
  const config = loadConfig({
    MYNTRIX_DATA_DIR: testDb.dataDir,
    MYNTRIX_DATABASE_URL: testDb.url,
    MYNTRIX_ADMIN_PASSWORD: ADMIN_PASSWORD,
    MYNTRIX_LOG_LEVEL: 'silent',
    // Tests log in many times from one address.
    MYNTRIX_LOGIN_MAX_ATTEMPTS: '50',
    // Without root, children share the test process's user and only admins could make
    // agents; most tests act as operators. Root (CI) runs them as nobody instead.
    ...(process.getuid?.() === 0 ? {} : { MYNTRIX_TRUST_OPERATORS: 'true' }),
    ...options.env,
  })
  const database = testDb.open()
  let app: AppInstance
  try {
    app = await buildApp({ config, database, logger: false, consoleDir: options.consoleDir })
  } catch (err) {
    await database.close()
    // A database this call created would otherwise be left behind (a PostgreSQL schema, a temp dir).
    if (!options.testDb) await testDb.drop()
    throw err
  }

  const inject = async <T>(
    method: InjectOptions['method'],
    url: string,
    opts: { token?: string | null; body?: unknown; headers?: Record<string, string>; as?: TestUser } = {},
  ): Promise<TestResponse<T>> => {
    const token = opts.as ? opts.as.token : opts.token
    const headers: Record<string, string> = { ...opts.headers }
    if (token) headers.authorization = `Bearer ${token}`
    const res = await app.inject({
      method,
      url,
      headers,
      ...(opts.body !== undefined
        ? typeof opts.body === 'string'
          ? { payload: opts.body }
          : { payload: opts.body as object }
        : {}),
    })
    let body: any = res.body
    try {
      body = res.body ? JSON.parse(res.body) : undefined
    } catch {}
    return { status: res.statusCode, headers: res.headers as TestResponse['headers'], body, text: res.body }
  }

  const login = async (username: string, password: string): Promise<string> => {
    const res = await inject<{ access_token: string }>('POST', '/api/auth/token', {
      body: { username, password },
    })
    if (res.status !== 200) throw new Error(`login ${username} failed: ${res.status} ${res.text}`)
    return res.body.access_token
  }

  const adminToken = await login('admin', ADMIN_PASSWORD)
  const me = await inject<{ id: string }>('GET', '/api/auth/me', { token: adminToken })
  const admin: TestUser = { id: me.body.id, username: 'admin', token: adminToken }

  const ensureUser = async (username: string, role: string): Promise<TestUser> => {
    if (options.seedUsers !== false) {
      const created = await inject('POST', '/api/auth/users', {
        token: adminToken,
        body: { username, password: USER_PASSWORD, role },
      })
      if (created.status !== 201 && created.status !== 409) {
        throw new Error(`creating ${username} failed: ${created.status} ${created.text}`)
      }
    }
    const token = await login(username, USER_PASSWORD)
    const self = await inject<{ id: string }>('GET', '/api/auth/me', { token })
    return { id: self.body.id, username, token }
  }

  const [operator, operator2, viewer] = [
    await ensureUser('operator', 'operator'),
    await ensureUser('operator2', 'operator'),
    await ensureUser('viewer', 'viewer'),
  ]

  let closed = false
  const t: TestApp = {
    app,
    database,
    testDb,
    config,
    admin,
    operator,
    operator2,
    viewer,
    request: inject,
    async close() {
      if (closed) return
      closed = true
      open.delete(t)
      await app.close()
      await database.close()
    },
    async dispose() {
      await t.close()
      await testDb.drop()
    },
  }
  open.add(t)
  return t
}
