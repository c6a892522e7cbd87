import { afterEach, describe, expect, it } from 'vitest'
import type { JobsService } from '../../../src/modules/jobs/service.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'

/**
 * Checks text against the Prometheus text exposition format 0.0.4: every
 * line is a comment (# HELP / # TYPE name type) or `name{labels} value`, and
 * every sample belongs to a family with a TYPE line. Returns the samples.
 */
function parseExposition(
  text: string,
): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const types = new Map<string, string>()
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = []
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*'
  const label = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`
  const sampleRe = new RegExp(`^(${name})(?:\\{((?:${label})(?:,${label})*)?,?\\})? (\\S+)(?: -?\\d+)?$`)
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) {
      expect(line).toMatch(new RegExp(`^# HELP ${name} .*$`))
      continue
    }
    if (line.startsWith('# TYPE ')) {
      const m = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line)
      expect(m, line).not.toBeNull()
      types.set(m![1]!, m![2]!)
      continue
    }
    const m = sampleRe.exec(line)
    expect(m, `not an exposition line: ${line}`).not.toBeNull()
    const value =
      m![3] === '+Inf'
        ? Number.POSITIVE_INFINITY
        : m![3] === '-Inf'
          ? Number.NEGATIVE_INFINITY
          : Number(m![3])
    expect(Number.isNaN(value) && m![3] !== 'NaN', line).toBe(false)
    const family = m![1]!.replace(/_(bucket|sum|count)$/, '')
    expect(types.has(m![1]!) || types.has(family), `no TYPE for ${m![1]}`).toBe(true)
    const labels: Record<string, string> = {}
    for (const l of (m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!
    samples.push({ name: m![1]!, labels, value })
  }
  return samples
}

describe.each(testEngines())('monitoring API on $name', (engine) => {
  let t: TestApp | undefined
  afterEach(async () => {
    await t?.dispose()
    t = undefined
  })

  const start = async (env: Record<string, string> = {}) => {
    t = await createTestApp(engine, { env: { MYNTRIX_METRICS_INTERVAL_MS: '100', ...env } })
    return t
  }

  it('answers the current host figures', async () => {
    const app = await start()
    expect((await app.request('GET', '/api/myntrix/system-metrics')).status).toBe(401)
    const res = await app.request('GET', '/api/myntrix/system-metrics', { as: app.viewer })
    expect(res.status).toBe(200)
    const m = res.body
    expect(m.timestamp).toMatch(/Z$/)
    expect(m.cpu.percent).toBeGreaterThanOrEqual(0)
    expect(m.cpu.percent).toBeLessThanOrEqual(100)
    expect(m.cpu.perCore).toHaveLength(m.cpu.cores)
    expect(m.memory.totalBytes).toBeGreaterThan(0)
    expect(m.memory.usedBytes + m.memory.availableBytes).toBe(m.memory.totalBytes)
    expect(m.disk.path).toBe(app.config.dataDir)
    expect(m.load).toHaveProperty('fifteen')
    expect(m.network).toHaveProperty('rxBytesPerSec')
    expect(m.history).toBeUndefined()
  })

  it('adds a chart-ready history with ?window=', async () => {
    const app = await start()
    await app.request('GET', '/api/myntrix/system-metrics', { as: app.viewer })
    const res = await app.request('GET', '/api/myntrix/system-metrics?window=15m&step=1s', { as: app.viewer })
    expect(res.status).toBe(200)
    const h = res.body.history
    expect(h.stepMs).toBe(1000)
    expect(['memory', 'mixed', 'database']).toContain(h.source)
    expect(h.timestamps.length).toBeGreaterThan(0)
    for (const key of ['cpu', 'cpuMax', 'memory', 'memoryMax'])
      expect(h[key]).toHaveLength(h.timestamps.length)
    expect(h.timestamps[0]).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/)
    expect(Date.parse(h.to) - Date.parse(h.from)).toBe(900_000)
  })

  it.each([
    ['window=abc', 'window'],
    ['window=0m', 'window'],
    ['window=401d', 'window'],
    ['step=0', 'step'],
    ['window=1h&step=100ms', 'step'],
    ['window=7d&step=1s', 'step'],
    ['from=yesterday', 'from'],
    ['from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z', 'from'],
    ['window=1h&from=2025-01-01T00:00:00Z', 'window'],
    ['to=noon', 'to'],
  ])('answers 400 for %s', async (qs, path) => {
    const app = await start()
    const res = await app.request('GET', `/api/myntrix/system-metrics?${qs}`, { as: app.viewer })
    expect(res.status).toBe(400)
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
    expect(res.body.errors[0].path).toBe(path)
  })

  it('serves /metrics in Prometheus format, authenticated', async () => {
    const app = await start()
    const jobs = (app.app.myntrix.areas.find((a) => a.name === 'jobs') as unknown as { service: JobsService })
      .service
    await jobs.create({ name: 'x', type: 't', running: true })
    await app.request('GET', '/api/myntrix/system-metrics', { as: app.viewer })
    await app.request('GET', '/healthz')
    expect((await app.request('GET', '/metrics')).status).toBe(401)
    const res = await app.request('GET', '/metrics', { as: app.viewer })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    const samples = parseExposition(res.text)
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value
    const cpu = value('myntrix_host_cpu_percent')
    expect(cpu).toBeGreaterThanOrEqual(0)
    expect(cpu).toBeLessThanOrEqual(100)
    expect(value('myntrix_host_memory_bytes', { state: 'total' })).toBeGreaterThan(0)
    expect(value('myntrix_host_load_average', { period: '5m' })).toBeGreaterThanOrEqual(0)
    expect(value('myntrix_jobs', { status: 'running' })).toBe(1)
    expect(value('myntrix_jobs', { status: 'failed' })).toBe(0)
    expect(value('myntrix_agents', { status: 'running' })).toBe(0)
    expect(value('myntrix_devices', { status: 'connected' })).toBe(0)
    expect(value('myntrix_scheduler_runs', { status: 'success' })).toBe(0)
    expect(
      value('myntrix_http_request_duration_seconds_count', {
        route: '/healthz',
        method: 'GET',
        status_code: '200',
      }),
    ).toBe(1)
    expect(
      value('myntrix_http_request_duration_seconds_count', {
        route: '/api/myntrix/system-metrics',
        status_code: '200',
      }),
    ).toBe(1)
  })

  it('serves /metrics without a token when MYNTRIX_METRICS_PUBLIC=true', async () => {
    const app = await start({ MYNTRIX_METRICS_PUBLIC: 'true' })
    const res = await app.request('GET', '/metrics')
    expect(res.status).toBe(200)
    expect(parseExposition(res.text).length).toBeGreaterThan(0)
    expect((await app.request('GET', '/api/myntrix/system-metrics')).status).toBe(401)
  })
})
