// Bearer tokens can be revoked: a password change ends every token issued
// before it (the user's token version), and logout ends the one token it is
// called with (its jti on a denylist until the token would have expired).

import { createSigner } from 'fast-jwt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadOrCreateJwtSecret } from '../../src/auth/secret.js'
import { createTestApp, type TestApp, USER_PASSWORD } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

describe.each(testEngines())('token revocation on $name', (engine) => {
  let t: TestApp
  let n = 0
  beforeAll(async () => {
    t = await createTestApp(engine)
  })
  afterAll(async () => {
    await t.dispose()
  })

  async function newUser(): Promise<{ id: string; username: string }> {
    const username = `rev${++n}`
    const res = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username, password: USER_PASSWORD, role: 'operator' },
    })
    expect(res.status).toBe(201)
    return { id: res.body.id, username }
  }

  async function token(username: string, password = USER_PASSWORD): Promise<string> {
    const res = await t.request('POST', '/api/auth/token', { body: { username, password } })
    expect(res.status, res.text).toBe(200)
    return res.body.access_token
  }

  it('a password change revokes every token issued before it', async () => {
    const user = await newUser()
    const first = await token(user.username)
    const second = await token(user.username)
    expect((await t.request('GET', '/api/auth/me', { token: first })).status).toBe(200)

    const changed = await t.request('PUT', `/api/auth/users/${user.id}`, {
      as: t.admin,
      body: { password: 'changed-password-9' },
    })
    expect(changed.status).toBe(200)
    for (const old of [first, second]) {
      const res = await t.request('GET', '/api/auth/me', { token: old })
      expect(res.status).toBe(401)
      expect(res.headers['content-type']).toContain('application/problem+json')
      expect(res.body.detail).toBe('token revoked by a password change; log in again')
    }
    // The new password gives a token that works.
    const fresh = await token(user.username, 'changed-password-9')
    expect((await t.request('GET', '/api/auth/me', { token: fresh })).status).toBe(200)
    // A role change alone does not log the user out (the role is read per request).
    await t.request('PUT', `/api/auth/users/${user.id}`, { as: t.admin, body: { role: 'viewer' } })
    const me = await t.request('GET', '/api/auth/me', { token: fresh })
    expect(me.status).toBe(200)
    expect(me.body.role).toBe('viewer')
  })

  it('logout revokes the bearer token it was called with, and only that one', async () => {
    const user = await newUser()
    const a = await token(user.username)
    const b = await token(user.username)
    const out = await t.request('POST', '/api/auth/logout', { token: a })
    expect(out.status, out.text).toBe(200)
    expect(out.body).toEqual({ message: 'logged out; the token is revoked' })
    expect(out.headers['set-cookie']).toBeUndefined()
    const again = await t.request('GET', '/api/auth/me', { token: a })
    expect(again.status).toBe(401)
    expect(again.body.detail).toBe('token logged out')
    // Logging out twice is 401: the token no longer authenticates anything.
    expect((await t.request('POST', '/api/auth/logout', { token: a })).status).toBe(401)
    expect((await t.request('GET', '/api/auth/me', { token: b })).status).toBe(200)
  })

  it('an API key cannot log out (it is revoked by id), and keeps working', async () => {
    const key = await t.request('POST', '/api/auth/api-keys', { as: t.operator, body: { name: 'k' } })
    const out = await t.request('POST', '/api/auth/logout', { token: key.body.key })
    expect(out.status).toBe(409)
    expect(out.body.detail).toContain('DELETE /api/auth/api-keys/')
    expect((await t.request('GET', '/api/auth/me', { token: key.body.key })).status).toBe(200)
  })

  it('refuses a validly signed token without jti and token version (it could not be revoked)', async () => {
    const sign = createSigner({ key: loadOrCreateJwtSecret(t.config.dataDir, null), iss: 'myntrix' })
    const legacy = sign({ sub: t.operator.id, username: 'operator', role: 'operator' })
    const res = await t.request('GET', '/api/auth/me', { token: legacy })
    expect(res.status).toBe(401)
    expect(res.body.detail).toContain('log in again')
  })

  it('prunes logged-out tokens and sessions once they are past their own expiry', async () => {
    const { auth } = t.app.myntrix
    const user = await newUser()
    const past = new Date(Date.now() - 60_000)
    const future = new Date(Date.now() + 3_600_000)
    await auth.repo.revokeToken('expired-jti', user.id, past)
    await auth.repo.revokeToken('live-jti', user.id, future)
    const session = { userId: user.id, tokenVersion: 0, createdAt: past }
    await auth.repo.insertSession({ ...session, id: `s-old-${n}`, expiresAt: past }, `hash-old-${n}`)
    await auth.repo.insertSession({ ...session, id: `s-live-${n}`, expiresAt: future }, `hash-live-${n}`)

    expect(await auth.pruneRevokedTokens(500)).toBeGreaterThanOrEqual(1)
    expect(await auth.pruneExpiredSessions(500)).toBeGreaterThanOrEqual(1)
    const db = t.database.db
    const jtis = (await db.selectFrom('revokedTokens').select('jti').execute()).map((r) => r.jti)
    expect(jtis).toContain('live-jti')
    expect(jtis).not.toContain('expired-jti')
    const ids = (await db.selectFrom('authSessions').select('id').execute()).map((r) => r.id)
    expect(ids).toContain(`s-live-${n}`)
    expect(ids).not.toContain(`s-old-${n}`)
  })

  // R4 (medium): a stolen 1 h token can mint an API key that never expires
  // (expiresInDays is optional); the password change that answers the leak,
  // and even disabling then re-enabling the user, leave that key working.
  it('R4: a password change, or disabling and re-enabling, revokes API keys made before it', async () => {
    const login = await t.request('POST', '/api/auth/token', {
      body: { username: 'operator2', password: USER_PASSWORD },
    })
    const key = await t.request('POST', '/api/auth/api-keys', {
      token: login.body.access_token,
      body: { name: 'persistence' },
    })
    expect(key.status).toBe(201)
    const changed = await t.request('PUT', `/api/auth/users/${t.operator2.id}`, {
      as: t.admin,
      body: { password: 'a-new-password-2' },
    })
    expect(changed.status).toBe(200)
    expect((await t.request('GET', '/api/auth/me', { token: key.body.key })).status).toBe(401)

    const key2 = await t.request('POST', '/api/auth/api-keys', { as: t.viewer, body: { name: 'k2' } })
    await t.request('PUT', `/api/auth/users/${t.viewer.id}`, { as: t.admin, body: { disabled: true } })
    await t.request('PUT', `/api/auth/users/${t.viewer.id}`, { as: t.admin, body: { disabled: false } })
    expect((await t.request('GET', '/api/auth/me', { token: key2.body.key })).status).toBe(401)
  })
})
