import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

describe.each(testEngines().slice(0, 1))('WebSocket authentication on $name', (engine) => {
  let t: TestApp
  let base: string
  beforeAll(async () => {
    t = await createTestApp(engine)
    base = (await t.app.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws')
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('refuses an upgrade without a token with 401, and the server still closes promptly', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${base}/ws/myntrix/visualization`)
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0)
        ws.terminate()
      })
      ws.on('open', () => reject(new Error('upgrade should have been refused')))
      ws.on('error', () => {})
    })
    expect(status).toBe(401)
    const started = Date.now()
    await t.close()
    // A refused upgrade must not keep its socket open and hold app.close() hostage.
    expect(Date.now() - started).toBeLessThan(5000)
  })
})

describe.each(testEngines().slice(0, 1))('live streams and revoked credentials on $name', (engine) => {
  let t: TestApp
  let base: string
  beforeAll(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_STREAM_AUTH_RECHECK_MS: '100' } })
    base = (await t.app.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws')
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('ends a WebSocket opened with an API key once the key is revoked', async () => {
    const key = await t.request('POST', '/api/auth/api-keys', { as: t.operator, body: { name: 'stream' } })
    const ws = new WebSocket(`${base}/ws/myntrix/visualization?token=${key.body.key}`)
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()))
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve())
      ws.once('error', reject)
    })
    // Still open after several re-checks while the key is valid.
    await new Promise((r) => setTimeout(r, 350))
    expect(ws.readyState).toBe(WebSocket.OPEN)
    await t.request('DELETE', `/api/auth/api-keys/${key.body.id}`, { as: t.operator })
    await closed
    expect(ws.readyState).toBe(WebSocket.CLOSED)
  })
})
