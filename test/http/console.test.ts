// The built console served at /: hashed assets cached for good, index.html
// revalidated, deep links answered with index.html, and every server route
// (API, docs, probes, metrics) unchanged. A server whose console was never
// built says how to build it instead of failing.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

const sqlite = testEngines()[0]
const INDEX =
  '<!doctype html><title>Myntrix</title><script type="module" src="/assets/index-Ab12Cd34.js"></script>'
const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }

function fakeBuild(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-console-'))
  fs.mkdirSync(path.join(dir, 'assets'))
  fs.writeFileSync(path.join(dir, 'index.html'), INDEX)
  fs.writeFileSync(path.join(dir, 'assets', 'index-Ab12Cd34.js'), 'console.log("console")')
  fs.writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
  return dir
}

describe('console served by the server', () => {
  let t: TestApp
  let dir: string
  beforeAll(async () => {
    dir = fakeBuild()
    t = await createTestApp(sqlite, { consoleDir: dir })
  })
  afterAll(async () => {
    await t?.dispose()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('serves index.html at / with no-cache and a content security policy', async () => {
    const res = await t.request('GET', '/', { headers: html })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(res.headers['cache-control']).toBe('no-cache')
    expect(res.headers['content-security-policy']).toContain("default-src 'self'")
    expect(res.text).toBe(INDEX)
  })

  it('serves hashed assets as immutable for a year', async () => {
    const res = await t.request('GET', '/assets/index-Ab12Cd34.js')
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/javascript/)
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
  })

  it('revalidates an unhashed file at the top of the build', async () => {
    const res = await t.request('GET', '/favicon.svg')
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('no-cache')
  })

  it('answers a deep link a browser navigates to with index.html', async () => {
    for (const url of ['/agents', '/agents/0192-abc?tab=logs', '/admin/users']) {
      const res = await t.request('GET', url, { headers: html })
      expect(res.status, url).toBe(200)
      expect(res.headers['cache-control']).toBe('no-cache')
      expect(res.text).toBe(INDEX)
    }
  })

  it('answers a missing asset and a non-HTML request with a 404 problem', async () => {
    for (const [url, headers] of [
      ['/assets/index-gone.js', html],
      ['/agents', { accept: 'application/json' }],
    ] as const) {
      const res = await t.request('GET', url, { headers })
      expect(res.status, url).toBe(404)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    }
  })

  it('keeps an unknown API path a 404 problem, even when a browser asks for HTML', async () => {
    const res = await t.request('GET', '/api/myntrix/nothing-here', { as: t.admin, headers: html })
    expect(res.status).toBe(404)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.body.detail).toContain('/api/myntrix/nothing-here')
    const ws = await t.request('GET', '/ws/nothing', { as: t.admin, headers: html })
    expect(ws.status).toBe(404)
    const docs = await t.request('GET', '/docs/nothing-here', { headers: html })
    expect(docs.headers['content-type'] ?? '').not.toMatch(/^text\/html/)
  })

  it('leaves the API, docs, probes and metrics as they were', async () => {
    expect((await t.request('GET', '/healthz', { headers: html })).body).toEqual({ status: 'ok' })
    expect((await t.request('GET', '/readyz', { headers: html })).body.status).toBe('ready')
    expect((await t.request('GET', '/api/auth/me', { as: t.admin, headers: html })).body.username).toBe(
      'admin',
    )
    expect((await t.request('GET', '/api/myntrix/agents', { headers: html })).status).toBe(401)
    expect((await t.request('GET', '/metrics', { headers: html })).status).toBe(401)
    const spec = await t.request('GET', '/docs/json')
    expect(spec.status).toBe(200)
    // The console's routes are not part of the API document.
    expect(Object.keys(spec.body.paths)).not.toContain('/')
    expect(Object.keys(spec.body.paths)).not.toContain('/*')
    expect((await t.request('GET', '/docs', { headers: html })).status).not.toBe(404)
  })

  it('refuses to serve a file outside the build', async () => {
    for (const url of ['/../package.json', '/assets/../../package.json', '/%2e%2e/package.json']) {
      const res = await t.request('GET', url)
      expect(res.status, url).toBe(404)
    }
  })
})

describe('console not built', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp(sqlite, { consoleDir: path.join(os.tmpdir(), 'myntrix-no-console-here') })
  })
  afterAll(async () => {
    await t?.dispose()
  })

  it('says how to build it at / instead of failing', async () => {
    const res = await t.request('GET', '/', { headers: html })
    expect(res.status).toBe(503)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.body.detail).toContain('npm run build')
    const deep = await t.request('GET', '/agents', { headers: html })
    expect(deep.status).toBe(503)
    expect(deep.body.detail).toContain('npm run build')
  })

  it('still serves the API', async () => {
    expect((await t.request('GET', '/healthz')).status).toBe(200)
    expect((await t.request('GET', '/api/auth/me', { as: t.admin })).status).toBe(200)
  })
})
