import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

describe.each(testEngines())('HTTP conventions on $name', (engine) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp(engine)
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('answers /healthz and /readyz without a token', async () => {
    expect((await t.request('GET', '/healthz')).body).toEqual({ status: 'ok' })
    const ready = await t.request('GET', '/readyz')
    expect(ready.status).toBe(200)
    expect(ready.body).toEqual({ status: 'ready', database: engine.name })
  })

  it('answers unknown routes with 404 problem+json', async () => {
    const res = await t.request('GET', '/api/nothing-here', { as: t.admin })
    expect(res.status).toBe(404)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.body).toMatchObject({ status: 404, title: 'Not Found' })
    expect(res.body.detail).toContain('/api/nothing-here')
  })

  it('requires a token on every /api route except the login routes', async () => {
    const routes = t.app.printRoutes({ commonPrefix: false })
    const spec = (await t.request('GET', '/docs/json')).body
    const paths = Object.entries(spec.paths as Record<string, Record<string, unknown>>)
    // With the console at / the tree's root is '/', and paths below it print without their leading slash.
    expect(routes).toContain('api/auth/me')
    let checked = 0
    for (const [path, methods] of paths) {
      if (!path.startsWith('/api')) continue
      for (const method of Object.keys(methods)) {
        const url = path.replace(/\{[^}]+\}/g, '00000000-0000-7000-8000-000000000000')
        const res = await t.request(method.toUpperCase() as 'GET', url, {
          body: method === 'get' ? undefined : {},
        })
        if (path === '/api/auth/token' || path === '/api/token' || path === '/api/auth/session') {
          expect(res.status).not.toBe(401)
        } else {
          expect(res.status, `${method} ${path}`).toBe(401)
          expect(res.headers['content-type']).toContain('application/problem+json')
        }
        checked++
      }
    }
    expect(checked).toBeGreaterThan(5)
  })

  it('cannot be walked around with percent-escapes in the path', async () => {
    for (const url of [
      '/%6detrics',
      '/%61pi/myntrix/system-metrics',
      '/%61pi/auth/me',
      '/api/myntrix/%64evices/ports',
    ]) {
      const res = await t.request('GET', url)
      expect(res.status, url).toBe(401)
    }
  })

  it('answers malformed JSON with 400 problem+json', async () => {
    const res = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: '{"username": "x", ',
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(400)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.body.detail).toMatch(/JSON/)
    expect(res.text).not.toMatch(/at .*\.ts:\d+/)
  })

  it('answers schema violations with 400 and one entry per field path', async () => {
    const res = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username: 7, role: 'boss' },
    })
    expect(res.status).toBe(400)
    expect(res.body.type).toContain('validation-error')
    const paths = res.body.errors.map((e: { path: string }) => e.path).sort()
    expect(paths).toEqual(expect.arrayContaining(['password', 'role']))
  })

  it('validates list query values with query paths', async () => {
    const res = await t.request('GET', '/api/auth/users?limit=0', { as: t.admin })
    expect(res.status).toBe(400)
    expect(res.body.errors[0].path).toBe('query.limit')
    const tooMany = await t.request('GET', '/api/auth/users?limit=5000', { as: t.admin })
    expect(tooMany.status).toBe(400)
  })

  it('pages lists with limit, offset and the skip alias, total in X-Total-Count', async () => {
    const all = await t.request('GET', '/api/auth/users', { as: t.admin })
    const total = Number(all.headers['x-total-count'])
    expect(all.body).toHaveLength(total)
    const second = await t.request('GET', '/api/auth/users?limit=1&offset=1', { as: t.admin })
    expect(second.body).toEqual([all.body[1]])
    const skipped = await t.request('GET', '/api/auth/users?limit=1&skip=2', { as: t.admin })
    expect(skipped.body).toEqual([all.body[2]])
  })

  it('serves an OpenAPI 3 document listing the auth routes, and the docs UI', async () => {
    const spec = await t.request('GET', '/docs/json')
    expect(spec.status).toBe(200)
    expect(spec.body.openapi).toMatch(/^3\./)
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining(['/api/auth/token', '/api/auth/me', '/api/auth/users', '/api/auth/api-keys']),
    )
    const ui = await t.app.inject({ method: 'GET', url: '/docs/' })
    expect(ui.statusCode).toBe(200)
    expect(ui.body).toContain('swagger')
  })
})
