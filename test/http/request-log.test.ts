// The request log: one line per request, at info, with method, route, status,
// duration and the caller; no credential and no phantom redaction in it.

import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import type { AppInstance } from '../../src/modules/area.js'
import { ADMIN_PASSWORD } from '../helpers/app.js'
import { type TestDatabase, testEngines } from '../helpers/engines.js'

describe('request log', () => {
  const lines: Record<string, unknown>[] = []
  let app: AppInstance
  let testDb: TestDatabase
  let close: () => Promise<void>

  beforeAll(async () => {
    testDb = await testEngines()[0]!.createDatabase()
    const database = testDb.open()
    const config = loadConfig({
      MYNTRIX_DATA_DIR: testDb.dataDir,
      MYNTRIX_DATABASE_URL: testDb.url,
      MYNTRIX_ADMIN_PASSWORD: ADMIN_PASSWORD,
    })
    const stream = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l))
        done()
      },
    })
    app = await buildApp({ config, database, logger: { level: 'info', stream } })
    close = async () => {
      await app.close()
      await database.close()
      await testDb.drop()
    }
  })
  afterAll(async () => close?.())

  const requestLines = () => lines.filter((l) => l.msg === 'request')

  it('writes one line per request with route, status, duration and caller', async () => {
    const login = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { username: 'admin', password: ADMIN_PASSWORD },
    })
    const token = login.json().access_token as string
    lines.length = 0
    const me = await app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${token}` },
    })
    const adminId = me.json().id
    await app.inject({ method: 'GET', url: '/healthz' })
    const logged = requestLines()
    expect(logged).toHaveLength(2)
    expect(logged[0]).toMatchObject({
      level: 30,
      method: 'GET',
      route: '/api/auth/me',
      status: 200,
      userId: adminId,
    })
    expect(typeof logged[0]!.durationMs).toBe('number')
    expect(logged[1]).toMatchObject({ method: 'GET', route: '/healthz', status: 200, userId: null })
    // Nothing else is written per request: no "incoming request" / "request completed" pair.
    expect(lines).toHaveLength(2)
    const text = JSON.stringify(lines)
    expect(text).not.toContain(token)
    expect(text).not.toContain('authorization')
    expect(text).not.toContain('REDACTED')
  })

  it('cuts a query-string token out of the logged URL', async () => {
    lines.length = 0
    await app.inject({ method: 'GET', url: '/api/auth/me?token=secret-value-123' })
    const [line] = requestLines()
    expect(line!.url).toBe('/api/auth/me?token=[REDACTED]')
    expect(JSON.stringify(lines)).not.toContain('secret-value-123')
  })
})
