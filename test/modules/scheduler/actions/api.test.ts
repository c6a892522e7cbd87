import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ActionCanceled, actionErrors, hostAllowed } from '../../../../src/modules/scheduler/actions/index.js'
import { OutboundPolicy, parseOutboundAllow } from '../../../../src/net/outbound-policy.js'
import { registry, run } from './helpers.js'

let server: http.Server
let base: string
const sockets = new Set<Socket>()
let slowRequestSeen: () => void = () => {}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      if (url.pathname === '/ok') return res.end('hello body')
      if (url.pathname.startsWith('/status/')) {
        res.statusCode = Number(url.pathname.slice(8))
        return res.end(`status ${res.statusCode}`)
      }
      if (url.pathname === '/echo') {
        res.setHeader('content-type', 'application/json')
        return res.end(JSON.stringify({ method: req.method, headers: req.headers, body }))
      }
      if (url.pathname === '/big') return res.end('x'.repeat(10_000))
      if (url.pathname === '/redirect') {
        res.writeHead(Number(url.searchParams.get('code') ?? 302), {
          location: url.searchParams.get('to') ?? '/ok',
        })
        return res.end()
      }
      if (url.pathname === '/loop') {
        res.writeHead(302, { location: '/loop' })
        return res.end()
      }
      if (url.pathname === '/slow') {
        // Never answers: the action's timeout or cancel must end it.
        slowRequestSeen()
        return
      }
      res.statusCode = 404
      res.end('not found')
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const s of sockets) s.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

describe('api action', () => {
  it('succeeds on 2xx and logs the status and a body excerpt', async () => {
    const r = await run('api', { url: `${base}/ok` })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain(`GET ${base}/ok`)
    expect(r.logs).toMatch(/-> 200 OK in \d+ ms/)
    expect(r.logs).toContain('hello body')
  })

  it('fails on an unexpected status, with the body in the log', async () => {
    const r = await run('api', { url: `${base}/status/500` })
    expect(r).toMatchObject({ ok: false, error: 'expected status 2xx, got 500' })
    expect(r.logs).toContain('status 500')
  })

  it('honours expectedStatus, one or several', async () => {
    expect((await run('api', { url: `${base}/status/404`, expectedStatus: 404 })).ok).toBe(true)
    expect((await run('api', { url: `${base}/status/201`, expectedStatus: [200, 204] })).ok).toBe(false)
    expect((await run('api', { url: `${base}/status/204`, expectedStatus: [200, 204] })).ok).toBe(true)
  })

  it('sends method, headers and a JSON body', async () => {
    const r = await run('api', {
      url: `${base}/echo`,
      method: 'post',
      headers: { 'X-Token': 'abc' },
      body: { hello: 'world' },
    })
    expect(r.ok).toBe(true)
    const echoed = JSON.parse(r.logs.split('\n').find((l) => l.startsWith('{')) as string)
    expect(echoed.method).toBe('POST')
    expect(echoed.headers['x-token']).toBe('abc')
    expect(echoed.headers['content-type']).toBe('application/json')
    expect(JSON.parse(echoed.body)).toEqual({ hello: 'world' })
  })

  it('sends a string body as is', async () => {
    const r = await run('api', {
      url: `${base}/echo`,
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'raw text',
    })
    const echoed = JSON.parse(r.logs.split('\n').find((l) => l.startsWith('{')) as string)
    expect(echoed.body).toBe('raw text')
    expect(echoed.headers['content-type']).toBe('text/plain')
  })

  it('cuts a long body in the log', async () => {
    const r = await run('api', { url: `${base}/big` })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain('[... body cut at 4096 characters ...]')
    expect(r.logs.length).toBeLessThan(5000)
  })

  it('aborts the request at timeoutMs', async () => {
    const r = await run('api', { url: `${base}/slow`, timeoutMs: 200 })
    expect(r).toMatchObject({ ok: false, timedOut: true, error: 'request timed out after 200 ms' })
  })

  it('aborts the request when the run is canceled', async () => {
    const c = new AbortController()
    const seen = new Promise<void>((resolve) => {
      slowRequestSeen = resolve
    })
    const p = run('api', { url: `${base}/slow` }, { signal: c.signal })
    await seen
    c.abort(new ActionCanceled())
    expect(await p).toMatchObject({ ok: false, canceled: true })
  })

  it('reports a refused connection', async () => {
    const closed = http.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const r = await run('api', { url: `http://127.0.0.1:${port}/` })
    expect(r.ok).toBe(false)
    expect(r.error).toContain('ECONNREFUSED')
  })

  it('follows redirects, turning a POST into a GET on 303', async () => {
    const r = await run('api', { url: `${base}/redirect?code=303&to=/echo`, method: 'POST', body: { a: 1 } })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain('-> 303 redirect to /echo')
    expect(r.logs).toContain('"method":"GET"')
  })

  it('stops after 5 redirects, and does not follow with followRedirects: false', async () => {
    expect(await run('api', { url: `${base}/loop` })).toMatchObject({
      ok: false,
      error: 'more than 5 redirects',
    })
    const r = await run('api', { url: `${base}/redirect`, followRedirects: false, expectedStatus: 302 })
    expect(r.ok).toBe(true)
  })

  it('refuses a host outside the allow-list, also after a redirect', async () => {
    const port = new URL(base).port
    const blocked = await run('api', { url: `${base}/ok` }, { services: { apiAllowHosts: ['example.com'] } })
    expect(blocked.ok).toBe(false)
    expect(blocked.error).toContain(`host 127.0.0.1:${port} is not in the allow-list`)

    const allowed = await run('api', { url: `${base}/ok` }, { services: { apiAllowHosts: ['127.0.0.1'] } })
    expect(allowed.ok).toBe(true)

    const bounced = await run(
      'api',
      { url: `${base}/redirect?to=${encodeURIComponent(`http://localhost:${port}/ok`)}` },
      { services: { apiAllowHosts: ['127.0.0.1'] } },
    )
    expect(bounced.ok).toBe(false)
    expect(bounced.error).toContain(`host localhost:${port} is not in the allow-list`)
  })
})

describe('hostAllowed', () => {
  const u = (s: string) => new URL(s)
  it('matches host, wildcard subdomains, ports and IPv6', () => {
    expect(hostAllowed(u('https://api.example.com/x'), undefined)).toBe(true)
    expect(hostAllowed(u('https://api.example.com/x'), [])).toBe(true)
    expect(hostAllowed(u('https://api.example.com/x'), ['api.example.com'])).toBe(true)
    expect(hostAllowed(u('https://API.Example.com/x'), ['api.example.com'])).toBe(true)
    expect(hostAllowed(u('https://evil.com/x'), ['api.example.com'])).toBe(false)
    expect(hostAllowed(u('https://a.b.example.com/'), ['*.example.com'])).toBe(true)
    expect(hostAllowed(u('https://example.com/'), ['*.example.com'])).toBe(false)
    expect(hostAllowed(u('https://notexample.com/'), ['*.example.com'])).toBe(false)
    expect(hostAllowed(u('http://h:8080/'), ['h:8080'])).toBe(true)
    expect(hostAllowed(u('http://h:8081/'), ['h:8080'])).toBe(false)
    expect(hostAllowed(u('https://h/'), ['h:443'])).toBe(true)
    expect(hostAllowed(u('http://[::1]:9000/'), ['::1'])).toBe(true)
    expect(hostAllowed(u('http://[::1]:9000/'), ['[::1]:9000'])).toBe(true)
    expect(hostAllowed(u('http://[::1]:9000/'), ['[::1]:9001'])).toBe(false)
  })
})

describe('api payload validation', () => {
  const cases: Array<[string, unknown, string, string]> = [
    ['no url', {}, 'payload.url', 'is required'],
    ['a relative url', { url: '/x' }, 'payload.url', 'must be an absolute http(s) URL'],
    ['a file url', { url: 'file:///etc/passwd' }, 'payload.url', 'must use http or https, got file'],
    ['a bad method', { url: 'http://h/', method: 'FETCH' }, 'payload.method', 'must be one of GET'],
    ['a body on GET', { url: 'http://h/', body: 'x' }, 'payload.body', 'has no body'],
    [
      'a bad header name',
      { url: 'http://h/', headers: { 'a b': 'x' } },
      'payload.headers.a b',
      'name must be',
    ],
    [
      'a header with CRLF',
      { url: 'http://h/', headers: { A: 'x\r\nB: y' } },
      'payload.headers.A',
      'must not contain CR',
    ],
    [
      'a bad status',
      { url: 'http://h/', expectedStatus: 99 },
      'payload.expectedStatus',
      'must be an HTTP status',
    ],
    ['an empty status list', { url: 'http://h/', expectedStatus: [] }, 'payload.expectedStatus', 'must be'],
    ['a negative timeout', { url: 'http://h/', timeoutMs: -5 }, 'payload.timeoutMs', 'got -5'],
    ['an unknown field', { url: 'http://h/', verb: 'GET' }, 'payload.verb', 'unknown field'],
  ]
  it.each(cases)('rejects %s', (_name, payload, path, message) => {
    const errors = actionErrors(registry, 'api', payload)
    expect(errors.map((e) => e.path)).toContain(path)
    expect(errors.find((e) => e.path === path)?.message).toContain(message)
  })
})

describe('api action and the outbound policy', () => {
  // A second listener stands for what an operator must not reach (Redis, an admin console...).
  let inner: http.Server
  let innerPort: number
  let innerHits = 0
  const operator = { ownerId: 'op', role: 'operator' }

  beforeAll(async () => {
    inner = http.createServer((_req, res) => {
      innerHits++
      res.end('inner body')
    })
    await new Promise<void>((resolve) => inner.listen(0, '127.0.0.1', resolve))
    innerPort = (inner.address() as AddressInfo).port
  })
  afterAll(async () => {
    inner.closeAllConnections()
    await new Promise<void>((resolve) => inner.close(() => resolve()))
  })

  const port = () => Number(new URL(base).port)
  const allowBase = () => new OutboundPolicy({ allow: parseOutboundAllow(`127.0.0.1:${port()}`) })

  it('refuses an operator a loopback URL by default, before any connection', async () => {
    const r = await run('api', { url: `http://127.0.0.1:${innerPort}/` }, { actor: operator })
    expect(r.ok).toBe(false)
    expect(r.error).toContain(`api action: outbound connection to 127.0.0.1:${innerPort} refused`)
    expect(r.error).toContain(`MYNTRIX_OUTBOUND_ALLOW=127.0.0.1:${innerPort}`)
    expect(r.logs).not.toContain('inner body')
    expect(innerHits).toBe(0)
  })

  it('refuses a run with no known role the same way', async () => {
    const r = await run('api', { url: `http://127.0.0.1:${innerPort}/` }, { actor: { ownerId: null } })
    expect(r.error).toContain('refused')
    expect(innerHits).toBe(0)
  })

  it.each([
    ['localhost', (p: number) => `http://localhost:${p}/`],
    ['[::1]', (p: number) => `http://[::1]:${p}/`],
    ['0x7f.1', (p: number) => `http://0x7f.1:${p}/`],
    ['2130706433', (p: number) => `http://2130706433:${p}/`],
    ['metadata', () => 'http://169.254.169.254/latest/meta-data/'],
  ])('refuses an operator %s', async (_name, url) => {
    const r = await run('api', { url: url(innerPort) }, { actor: operator })
    expect(r.ok).toBe(false)
    expect(r.error).toMatch(/outbound connection to .* refused/)
    expect(innerHits).toBe(0)
  })

  it('the allow-list opens exactly the listed port', async () => {
    const services = { outbound: allowBase() }
    expect((await run('api', { url: `${base}/ok` }, { actor: operator, services })).ok).toBe(true)
    const other = await run('api', { url: `http://127.0.0.1:${innerPort}/` }, { actor: operator, services })
    expect(other.error).toContain('refused')
    expect(innerHits).toBe(0)
  })

  it.each([
    ['127.0.0.1', (p: number) => `http://127.0.0.1:${p}/secret`],
    ['localhost', (p: number) => `http://localhost:${p}/secret`],
    ['[::1]', (p: number) => `http://[::1]:${p}/secret`],
    ['the decimal form', (p: number) => `http://2130706433:${p}/secret`],
    ['metadata', () => 'http://169.254.169.254/latest/meta-data/'],
  ])('checks every redirect hop: a reachable host cannot bounce an operator to %s', async (_name, to) => {
    const r = await run(
      'api',
      { url: `${base}/redirect?to=${encodeURIComponent(to(innerPort))}` },
      { actor: operator, services: { outbound: allowBase() } },
    )
    expect(r.ok).toBe(false)
    expect(r.logs).toContain('-> 302 redirect to')
    expect(r.error).toMatch(/outbound connection to .* refused/)
    expect(r.logs).not.toContain('inner body')
    expect(innerHits).toBe(0)
  })

  it('an admin follows the same redirect to loopback', async () => {
    const r = await run('api', {
      url: `${base}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${innerPort}/`)}`,
    })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain('inner body')
    expect(innerHits).toBe(1)
    innerHits = 0
  })

  it('refuses a redirect to another scheme', async () => {
    const r = await run('api', { url: `${base}/redirect?to=${encodeURIComponent('file:///etc/passwd')}` })
    expect(r).toMatchObject({ ok: false, error: 'redirect to file, only http and https are followed' })
  })
})
