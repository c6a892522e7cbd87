// Browser sessions: the HttpOnly cookie from POST /api/auth/session works
// wherever a bearer token does (REST, WebSocket, SSE), state-changing cookie
// requests and cookie WebSocket upgrades must come from this origin or an
// allowed one, and logout revokes the session server-side.

import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createTestApp, type TestApp, USER_PASSWORD } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

const ALLOWED = 'http://dashboard.example:5173'
const EVIL = 'http://evil.example'
// app.inject sends Host: localhost:80; a browser on that server sends this Origin.
const SAME = 'http://localhost'

/** `myntrix_session=<value>` from a Set-Cookie answer, ready for a Cookie header. */
function cookieFrom(setCookie: string | string[] | undefined): string {
  const line = (Array.isArray(setCookie) ? setCookie : [setCookie ?? '']).find((c) =>
    c.startsWith('myntrix_session='),
  )
  if (!line) throw new Error(`no session cookie in ${JSON.stringify(setCookie)}`)
  const [pair = ''] = line.split(';')
  return pair
}

async function login(t: TestApp, username = 'operator', headers: Record<string, string> = {}) {
  const res = await t.request('POST', '/api/auth/session', {
    body: { username, password: USER_PASSWORD },
    headers,
  })
  expect(res.status, res.text).toBe(200)
  return { res, cookie: cookieFrom(res.headers['set-cookie']) }
}

/** Opens a WebSocket; resolves with the first message, or the refusal's HTTP status. */
function openWs(
  url: string,
  headers: Record<string, string>,
): Promise<{ ws?: WebSocket; first?: any; status?: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode })
      ws.terminate()
    })
    ws.once('message', (data) => resolve({ ws, first: JSON.parse(String(data)) }))
    ws.once('error', (err) => reject(err))
  })
}

/** GETs an SSE route; resolves with the status, headers and the first event's text. */
function openSse(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; firstEvent: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        const end = text.indexOf('\n\n', text.indexOf('event:'))
        if (text.includes('event:') && end > 0) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, firstEvent: text })
          req.destroy()
        }
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, firstEvent: text }))
    })
    req.on('error', reject)
  })
}

describe.each(testEngines())('cookie sessions on $name', (engine) => {
  let t: TestApp
  let httpBase: string
  let wsBase: string
  beforeAll(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_CORS_ORIGIN: ALLOWED } })
    httpBase = await t.app.listen({ port: 0, host: '127.0.0.1' })
    wsBase = httpBase.replace('http', 'ws')
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('sets an HttpOnly, SameSite=Strict cookie on login and answers who logged in', async () => {
    const { res } = await login(t)
    expect(res.body).toMatchObject({ id: t.operator.id, username: 'operator', role: 'operator' })
    expect(new Date(res.body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 28_000_000)
    const line = String(res.headers['set-cookie'])
    expect(line).toMatch(/^myntrix_session=[\w-]{40,};/)
    expect(line).toContain('HttpOnly')
    expect(line).toContain('SameSite=Strict')
    expect(line).toContain('Path=/')
    expect(line).toContain('Max-Age=28800')
    // Plain HTTP and MYNTRIX_COOKIE_SECURE unset: a Secure cookie would never come back.
    expect(line).not.toContain('Secure')
  })

  it('refuses wrong credentials with 401 problem+json saying so, and sets no cookie', async () => {
    const res = await t.request('POST', '/api/auth/session', {
      body: { username: 'operator', password: 'wrong-password' },
    })
    expect(res.status).toBe(401)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.body.detail).toBe('invalid username or password')
    expect(res.headers['set-cookie']).toBeUndefined()
  })

  it('refuses a login posted from another site (login CSRF)', async () => {
    const res = await t.request('POST', '/api/auth/session', {
      body: { username: 'operator', password: USER_PASSWORD },
      headers: { origin: EVIL },
    })
    expect(res.status).toBe(403)
    expect(res.body.type).toMatch(/\/csrf$/)
    expect(res.headers['set-cookie']).toBeUndefined()
    // From an allowed origin it works, with CORS credentials.
    const allowed = await login(t, 'operator', { origin: ALLOWED })
    expect(allowed.res.headers['access-control-allow-origin']).toBe(ALLOWED)
    expect(allowed.res.headers['access-control-allow-credentials']).toBe('true')
  })

  it('authenticates REST with the cookie: reads, /metrics, and writes from the same origin', async () => {
    const { cookie } = await login(t)
    const me = await t.request('GET', '/api/auth/me', { headers: { cookie } })
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ id: t.operator.id, username: 'operator', role: 'operator' })
    const list = await t.request('GET', '/api/myntrix/agents', { headers: { cookie } })
    expect(list.status).toBe(200)
    const metrics = await t.request('GET', '/metrics', { headers: { cookie } })
    expect(metrics.status).toBe(200)

    const created = await t.request('POST', '/api/myntrix/agents', {
      headers: { cookie, origin: SAME },
      body: { name: 'cookie-agent', type: 'worker', configuration: { command: ['true'] } },
    })
    expect(created.status, created.text).toBe(201)
    expect(created.body.ownerId).toBe(t.operator.id)
    // No Origin, but the browser's Sec-Fetch-Site says same-origin.
    const updated = await t.request('PUT', `/api/myntrix/agents/${created.body.id}`, {
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
      body: { name: 'cookie-agent-2' },
    })
    expect(updated.status, updated.text).toBe(200)
    // From the origin MYNTRIX_CORS_ORIGIN allows, with CORS credentials in the answer.
    const removed = await t.request('DELETE', `/api/myntrix/agents/${created.body.id}`, {
      headers: { cookie, origin: ALLOWED },
    })
    expect(removed.status, removed.text).toBe(200)
    expect(removed.headers['access-control-allow-origin']).toBe(ALLOWED)
    expect(removed.headers['access-control-allow-credentials']).toBe('true')
  })

  it('refuses cross-origin POST, PUT and DELETE with the cookie (403 csrf), and writes nothing', async () => {
    const { cookie } = await login(t)
    const before = await t.request('GET', '/api/myntrix/agents', { as: t.operator })
    const attempts: [string, string, unknown][] = [
      [
        'POST',
        '/api/myntrix/agents',
        { name: 'forged', type: 'worker', configuration: { command: ['true'] } },
      ],
      ['PUT', '/api/myntrix/agents/00000000-0000-7000-8000-000000000000', { name: 'x' }],
      ['DELETE', '/api/myntrix/agents/00000000-0000-7000-8000-000000000000', undefined],
      ['POST', '/api/auth/logout', undefined],
    ]
    for (const [method, url, body] of attempts) {
      for (const headers of [
        { cookie, origin: EVIL },
        { cookie, origin: 'null' },
        { cookie, 'sec-fetch-site': 'cross-site' },
        { cookie },
      ] as Record<string, string>[]) {
        const res = await t.request(method as 'POST', url, { headers, body })
        expect(res.status, `${method} ${url} ${JSON.stringify(headers)}`).toBe(403)
        expect(res.headers['content-type']).toContain('application/problem+json')
        expect(res.body.type).toMatch(/\/csrf$/)
      }
    }
    const after = await t.request('GET', '/api/myntrix/agents', { as: t.operator })
    expect(after.headers['x-total-count']).toBe(before.headers['x-total-count'])
    // The session survived the forged logout.
    expect((await t.request('GET', '/api/auth/me', { headers: { cookie } })).status).toBe(200)
  })

  it('leaves bearer tokens and API keys alone: no Origin check, cookie ignored beside them', async () => {
    const key = await t.request('POST', '/api/auth/api-keys', { as: t.operator, body: { name: 'k' } })
    expect(key.status).toBe(201)
    for (const auth of [`Bearer ${t.operator.token}`, `Bearer ${key.body.key}`]) {
      const res = await t.request('POST', '/api/myntrix/agents', {
        headers: { authorization: auth, origin: EVIL },
        body: { name: 'bearer-agent', type: 'worker', configuration: { command: ['true'] } },
      })
      expect(res.status, res.text).toBe(201)
      await t.request('DELETE', `/api/myntrix/agents/${res.body.id}`, { as: t.operator })
    }
    // A bad bearer is not rescued by a good cookie: the header decides.
    const { cookie } = await login(t)
    const res = await t.request('GET', '/api/auth/me', {
      headers: { cookie, authorization: 'Bearer not-a-token' },
    })
    expect(res.status).toBe(401)
  })

  it('authenticates WebSockets with the cookie from this origin or an allowed one, refuses others 403', async () => {
    const { cookie } = await login(t)
    const own = new URL(httpBase).origin
    for (const origin of [own, ALLOWED]) {
      const { ws, first, status } = await openWs(`${wsBase}/ws/myntrix/jobs`, { cookie, origin })
      expect(status, origin).toBeUndefined()
      expect(first.type).toBe('snapshot')
      ws!.close()
    }
    for (const headers of [{ cookie, origin: EVIL }, { cookie }] as Record<string, string>[]) {
      const { status } = await openWs(`${wsBase}/ws/myntrix/jobs`, headers)
      expect(status, JSON.stringify(headers)).toBe(403)
    }
    // No credential at all is still 401.
    expect((await openWs(`${wsBase}/ws/myntrix/jobs`, { origin: own })).status).toBe(401)
  })

  it('authenticates the SSE stream with the cookie, with CORS credentials for an allowed origin', async () => {
    const { cookie } = await login(t)
    const sse = await openSse(`${httpBase}/api/myntrix/visualization-stream`, { cookie, origin: ALLOWED })
    expect(sse.status).toBe(200)
    expect(sse.headers['content-type']).toContain('text/event-stream')
    expect(sse.headers['access-control-allow-origin']).toBe(ALLOWED)
    expect(sse.headers['access-control-allow-credentials']).toBe('true')
    expect(sse.firstEvent).toContain('event: snapshot')
    expect((await openSse(`${httpBase}/api/myntrix/visualization-stream`, {})).status).toBe(401)
  })

  it('logout revokes the session server-side and clears the cookie; the old cookie answers 401 everywhere', async () => {
    const { cookie } = await login(t)
    const out = await t.request('POST', '/api/auth/logout', { headers: { cookie, origin: SAME } })
    expect(out.status, out.text).toBe(200)
    expect(out.body.message).toContain('logged out')
    const cleared = String(out.headers['set-cookie'])
    expect(cleared).toMatch(/^myntrix_session=;/)
    expect(cleared).toContain('Max-Age=0')
    // The browser would drop it, but a copy kept elsewhere must not work either.
    for (const url of ['/api/auth/me', '/api/myntrix/agents', '/metrics']) {
      const res = await t.request('GET', url, { headers: { cookie } })
      expect(res.status, url).toBe(401)
      expect(res.headers['content-type']).toContain('application/problem+json')
    }
    const own = new URL(httpBase).origin
    expect((await openWs(`${wsBase}/ws/myntrix/jobs`, { cookie, origin: own })).status).toBe(401)
    expect((await openSse(`${httpBase}/api/myntrix/visualization-stream`, { cookie })).status).toBe(401)
  })

  it('follows the user: a role change applies at once, a password change or disabling ends the session', async () => {
    const created = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username: 'sessioned', password: USER_PASSWORD, role: 'operator' },
    })
    expect(created.status).toBe(201)
    const id = created.body.id
    const { cookie } = await login(t, 'sessioned')
    await t.request('PUT', `/api/auth/users/${id}`, { as: t.admin, body: { role: 'viewer' } })
    const me = await t.request('GET', '/api/auth/me', { headers: { cookie } })
    expect(me.body.role).toBe('viewer')
    const write = await t.request('POST', '/api/myntrix/agents', {
      headers: { cookie, origin: SAME },
      body: { name: 'no', type: 'worker', configuration: { command: ['true'] } },
    })
    expect(write.status).toBe(403)

    await t.request('PUT', `/api/auth/users/${id}`, { as: t.admin, body: { password: 'a-new-password-2' } })
    const after = await t.request('GET', '/api/auth/me', { headers: { cookie } })
    expect(after.status).toBe(401)
    expect(after.body.detail).toContain('log in again')

    const again = await t.request('POST', '/api/auth/session', {
      body: { username: 'sessioned', password: 'a-new-password-2' },
    })
    const cookie2 = cookieFrom(again.headers['set-cookie'])
    await t.request('PUT', `/api/auth/users/${id}`, { as: t.admin, body: { disabled: true } })
    expect((await t.request('GET', '/api/auth/me', { headers: { cookie: cookie2 } })).status).toBe(401)
    // Enabling the user again does not bring the old session back.
    await t.request('PUT', `/api/auth/users/${id}`, { as: t.admin, body: { disabled: false } })
    expect((await t.request('GET', '/api/auth/me', { headers: { cookie: cookie2 } })).status).toBe(401)
  })

  it('answers CORS preflights for an allowed origin with credentials, and not for others', async () => {
    const pre = await t.request('OPTIONS', '/api/myntrix/agents', {
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers['access-control-allow-origin']).toBe(ALLOWED)
    expect(pre.headers['access-control-allow-credentials']).toBe('true')
    const other = await t.request('OPTIONS', '/api/myntrix/agents', {
      headers: { origin: EVIL, 'access-control-request-method': 'POST' },
    })
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
  })
})

describe.each(testEngines().slice(0, 1))('session cookie settings on $name', (engine) => {
  it('marks the cookie Secure with MYNTRIX_COOKIE_SECURE and honours MYNTRIX_SESSION_TTL_SECONDS', async () => {
    const t = await createTestApp(engine, {
      env: { MYNTRIX_COOKIE_SECURE: 'true', MYNTRIX_SESSION_TTL_SECONDS: '600' },
    })
    try {
      const { res, cookie } = await login(t)
      const line = String(res.headers['set-cookie'])
      expect(line).toContain('Secure')
      expect(line).toContain('Max-Age=600')
      // Behind a TLS proxy the browser's origin is https://<Host>.
      const out = await t.request('POST', '/api/auth/logout', {
        headers: { cookie, origin: 'https://localhost', host: 'localhost' },
      })
      expect(out.status, out.text).toBe(200)
      expect(String(out.headers['set-cookie'])).toContain('Secure')
    } finally {
      await t.dispose()
    }
  })

  it('rate-limits session logins like token logins (429 with Retry-After)', async () => {
    const t = await createTestApp(engine, { env: { MYNTRIX_LOGIN_MAX_ATTEMPTS: '3' } })
    try {
      let last = 0
      let retryAfter: unknown
      for (let i = 0; i < 4 && last !== 429; i++) {
        const res = await t.request('POST', '/api/auth/session', {
          body: { username: 'viewer', password: 'wrong-password' },
        })
        last = res.status
        retryAfter = res.headers['retry-after']
      }
      expect(last).toBe(429)
      expect(Number(retryAfter)).toBeGreaterThan(0)
    } finally {
      await t.dispose()
    }
  })
})
