import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

describe.each(testEngines())('auth on $name', (engine) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp(engine)
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('logs in with JSON and the token opens /api/auth/me', async () => {
    const res = await t.request('POST', '/api/auth/token', {
      body: { username: 'admin', password: ADMIN_PASSWORD },
    })
    expect(res.status).toBe(200)
    expect(res.body.token_type).toBe('bearer')
    expect(res.body.expires_in).toBeGreaterThan(0)
    const me = await t.request('GET', '/api/auth/me', { token: res.body.access_token })
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ username: 'admin', role: 'admin' })
    expect(me.body.passwordHash).toBeUndefined()
  })

  it('logs in with the OAuth2 password form at /api/token', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=password&username=admin&password=${encodeURIComponent(ADMIN_PASSWORD)}`,
    })
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(res.body).access_token).toMatch(/\./)
  })

  it('logs in with multipart form data', async () => {
    const boundary = '----myntrixtest'
    const part = (name: string, value: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: part('username', 'admin') + part('password', ADMIN_PASSWORD) + `--${boundary}--\r\n`,
    })
    expect(res.statusCode).toBe(200)
  })

  it('refuses a wrong password with 401 problem+json', async () => {
    const res = await t.request('POST', '/api/auth/token', {
      body: { username: 'admin', password: 'nope-nope' },
    })
    expect(res.status).toBe(401)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized' })
    expect(res.body.detail).toBe('invalid username or password')
  })

  it('answers 429 after repeated failed logins, with Retry-After', async () => {
    const body = { username: 'operator2', password: 'wrong-password' }
    const statuses: number[] = []
    for (let i = 0; i < 52; i++) statuses.push((await t.request('POST', '/api/auth/token', { body })).status)
    expect(statuses.slice(0, 50).every((s) => s === 401)).toBe(true)
    const limited = await t.request('POST', '/api/auth/token', { body })
    expect(limited.status).toBe(429)
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
  })

  it('answers 401 for a missing, malformed or forged token', async () => {
    expect((await t.request('GET', '/api/auth/me')).status).toBe(401)
    expect((await t.request('GET', '/api/auth/me', { token: 'not-a-jwt' })).status).toBe(401)
    const [h, p] = t.admin.token.split('.')
    const forged = await t.request('GET', '/api/auth/me', { token: `${h}.${p}.AAAA` })
    expect(forged.status).toBe(401)
    expect(forged.body.type).toContain('unauthorized')
  })

  it('lets an admin manage users and refuses non-admins with 403', async () => {
    const created = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username: 'temp-user', password: 'temp-password', role: 'viewer' },
    })
    expect(created.status).toBe(201)
    expect(created.body.role).toBe('viewer')

    const list = await t.request('GET', '/api/auth/users?limit=2', { as: t.admin })
    expect(list.status).toBe(200)
    expect(list.body).toHaveLength(2)
    expect(Number(list.headers['x-total-count'])).toBeGreaterThanOrEqual(5)

    const byOperator = await t.request('GET', '/api/auth/users', { as: t.operator })
    expect(byOperator.status).toBe(403)
    const viewerWrite = await t.request('POST', '/api/auth/users', {
      as: t.viewer,
      body: { username: 'x-user', password: 'xxxxxxxxx', role: 'admin' },
    })
    expect(viewerWrite.status).toBe(403)

    const dup = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username: 'temp-user', password: 'temp-password', role: 'viewer' },
    })
    expect(dup.status).toBe(409)

    const disabled = await t.request('PUT', `/api/auth/users/${created.body.id}`, {
      as: t.admin,
      body: { disabled: true },
    })
    expect(disabled.body.disabled).toBe(true)
    const login = await t.request('POST', '/api/auth/token', {
      body: { username: 'temp-user', password: 'temp-password' },
    })
    expect(login.status).toBe(401)

    const deleted = await t.request('DELETE', `/api/auth/users/${created.body.id}`, { as: t.admin })
    expect(deleted.status).toBe(200)
    expect(deleted.body).toEqual({ message: 'user deleted', id: created.body.id })
    expect((await t.request('GET', `/api/auth/users/${created.body.id}`, { as: t.admin })).status).toBe(404)
  })

  it('refuses to delete or demote the last admin', async () => {
    const self = await t.request('DELETE', `/api/auth/users/${t.admin.id}`, { as: t.admin })
    expect(self.status).toBe(409)
    const demote = await t.request('PUT', `/api/auth/users/${t.admin.id}`, {
      as: t.admin,
      body: { role: 'viewer' },
    })
    expect(demote.status).toBe(409)
  })

  it('validates user input with field paths', async () => {
    const res = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username: 'bad name!', password: 'short', role: 'root' },
    })
    expect(res.status).toBe(400)
    const paths = res.body.errors.map((e: { path: string }) => e.path)
    expect(paths).toContain('password')
    expect(paths).toContain('role')
  })

  it('issues API keys shown once, stored hashed, usable, and revocable', async () => {
    const created = await t.request('POST', '/api/auth/api-keys', { as: t.operator, body: { name: 'ci' } })
    expect(created.status).toBe(201)
    const key: string = created.body.key
    expect(key).toMatch(/^myx_[0-9a-f]{12}_/)

    const row = await t.database.db
      .selectFrom('apiKeys')
      .selectAll()
      .where('id', '=', created.body.id)
      .executeTakeFirst()
    expect(row?.keyHash).toBeDefined()
    // The secret is everything after `myx_<prefix>_`; it may itself contain `_` (base64url).
    const secret = key.slice('myx_'.length + 12 + 1)
    expect(secret.length).toBeGreaterThan(0)
    expect(row?.keyHash).not.toContain(secret)

    const me = await t.request('GET', '/api/auth/me', { token: key })
    expect(me.status).toBe(200)
    expect(me.body.username).toBe('operator')

    const listed = await t.request('GET', '/api/auth/api-keys', { as: t.operator })
    expect(listed.body.map((k: { id: string }) => k.id)).toContain(created.body.id)
    expect(JSON.stringify(listed.body)).not.toContain(key)

    // Another user's key answers 404, not 403: its existence is not revealed.
    const foreign = await t.request('DELETE', `/api/auth/api-keys/${created.body.id}`, { as: t.operator2 })
    expect(foreign.status).toBe(404)
    const foreignList = await t.request('GET', '/api/auth/api-keys', { as: t.operator2 })
    expect(foreignList.body.map((k: { id: string }) => k.id)).not.toContain(created.body.id)

    const revoked = await t.request('DELETE', `/api/auth/api-keys/${created.body.id}`, { as: t.operator })
    expect(revoked.status).toBe(200)
    expect((await t.request('GET', '/api/auth/me', { token: key })).status).toBe(401)
    expect((await t.request('GET', '/api/auth/me', { token: `${key}x` })).status).toBe(401)
  })

  it('writes audit rows for logins and state-changing requests', async () => {
    await t.request('POST', '/api/auth/api-keys', { as: t.viewer, body: { name: 'audit-probe' } })
    // Audit writes do not block the response; wait for the row.
    let rows: { action: string; username: string | null }[] = []
    const viewerRow = (r: { action: string; username: string | null }) =>
      r.action === 'POST /api/auth/api-keys' && r.username === 'viewer'
    for (let i = 0; i < 100 && !rows.some(viewerRow); i++) {
      rows = await t.database.db.selectFrom('auditLog').select(['action', 'username']).execute()
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(rows.some((r) => r.action === 'login' && r.username === 'admin')).toBe(true)
    expect(rows.some((r) => r.action === 'login.failed')).toBe(true)
    expect(rows.some(viewerRow)).toBe(true)
  })
})
