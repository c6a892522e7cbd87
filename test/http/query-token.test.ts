// ?token= exists for browsers' WebSocket and EventSource, which cannot send an
// Authorization header. On any other route a token in the URL would only end
// up in proxy and access logs, so it is refused, not ignored.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

describe.each(testEngines().slice(0, 1))('?token= on $name', (engine) => {
  let t: TestApp
  let base: string
  beforeAll(async () => {
    t = await createTestApp(engine)
    base = await t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('is refused on REST routes with 401 problem+json pointing at the Authorization header', async () => {
    const key = await t.request('POST', '/api/auth/api-keys', { as: t.operator, body: { name: 'q' } })
    for (const credential of [t.operator.token, key.body.key]) {
      for (const [method, url] of [
        ['GET', '/api/auth/me'],
        ['GET', '/api/myntrix/agents'],
        ['GET', '/metrics'],
        ['GET', '/api/myntrix/visualization-data'],
        ['POST', '/api/myntrix/agents'],
      ] as const) {
        const res = await t.request(method, `${url}?token=${encodeURIComponent(credential)}`, {
          body: method === 'POST' ? { name: 'x', type: 'worker' } : undefined,
        })
        expect(res.status, `${method} ${url}`).toBe(401)
        expect(res.headers['content-type']).toContain('application/problem+json')
        expect(res.body.detail).toContain('Authorization header')
      }
    }
    // The header still works, and a stray ?token= beside it is not the credential.
    expect((await t.request('GET', '/api/auth/me?token=nonsense', { as: t.operator })).status).toBe(200)
  })

  it('still authenticates the WebSocket and SSE stream routes', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws/myntrix/jobs?token=${t.operator.token}`)
    const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(String(data))))
      ws.once('error', reject)
    })
    expect(first.type).toBe('snapshot')
    ws.close()
    const controller = new AbortController()
    const res = await fetch(`${base}/api/myntrix/visualization-stream?token=${t.operator.token}`, {
      signal: controller.signal,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    controller.abort()
  })
})
