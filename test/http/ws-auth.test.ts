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
