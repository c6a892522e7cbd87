// Alerts under load, against one real server process (SQLite in a temporary
// data directory) and the local Mosquitto (docs/PERFORMANCE.md, Alerts):
//  1. CPU: 100 MQTT devices publish telemetry at 10 Hz each (1,000 readings/s)
//     while the server has no rules, then 1,000 device rules (10 per device)
//     and 20 host rules (the sampler at 1 Hz), alternately; the server's CPU
//     (utime + stime from /proc/<pid>/stat) over the same window length;
//  2. latency: with that load and those rules, a reading that crosses a
//     threshold (forSeconds 0) until the signed webhook reaches a receiver on
//     127.0.0.1, one at a time;
//  3. burst: 10,000 alert events (5,000 alerts firing and resolving) from one
//     device publishing as fast as the broker acknowledges, all delivered: the
//     receiver counts distinct event ids.
//   npx tsx bench/alerts/run.ts [--seconds 20] [--reps 2] [--latency 200] [--burst 10000]

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connectAsync, type MqttClient } from 'mqtt'

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const seconds = arg('--seconds', 20)
const reps = arg('--reps', 2)
const latencyRounds = arg('--latency', 200)
const burstEvents = arg('--burst', 10_000)
const DEVICES = 100
const RULES_PER_DEVICE = 10
const HOST_RULES = 20
const BROKER = 'mqtt://127.0.0.1:1883'
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100)
const root = join(import.meta.dirname, '../..')
const prefix = `myntrix-bench/${randomUUID()}`

// ---- the server -------------------------------------------------------------
const dataDir = mkdtempSync(join(tmpdir(), 'myntrix-bench-alerts-'))
const port = 20_000 + Math.floor(Math.random() * 20_000)
const base = `http://127.0.0.1:${port}`
const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: root,
  env: {
    PATH: process.env.PATH ?? '',
    HOME: tmpdir(),
    MYNTRIX_DATA_DIR: dataDir,
    MYNTRIX_PORT: String(port),
    MYNTRIX_ADMIN_PASSWORD: 'bench-password-1',
    MYNTRIX_LOG_LEVEL: 'warn',
    MYNTRIX_NOTIFY_RETRY_BASE_MS: '200',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
})
const cpuTicks = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(fields[11]) + Number(fields[12])
}
for (let i = 0; ; i++) {
  if ((await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200) break
  if (i > 1200) throw new Error('the server did not start')
  await sleep(50)
}
const login = await fetch(`${base}/api/auth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password: 'bench-password-1' }),
})
const token = ((await login.json()) as { access_token: string }).access_token
async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const json = (await res.json()) as any
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

// ---- the receiver -----------------------------------------------------------
const arrivals: { at: number; body: any }[] = []
const waiters = new Set<() => void>()
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    arrivals.push({ at: performance.now(), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
    for (const w of waiters) w()
    res.end('ok')
  })
})
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
const until = (check: () => boolean, timeoutMs = 120_000) =>
  new Promise<void>((resolve, reject) => {
    if (check()) return resolve()
    const timer = setTimeout(() => {
      waiters.delete(w)
      reject(new Error('timed out'))
    }, timeoutMs)
    const w = () => {
      if (!check()) return
      clearTimeout(timer)
      waiters.delete(w)
      resolve()
    }
    waiters.add(w)
  })

// ---- devices and their telemetry --------------------------------------------
const devices: string[] = []
for (let i = 0; i < DEVICES; i++) {
  const d = await api('POST', '/api/myntrix/devices', {
    name: `bench ${i}`,
    connectionString: `${BROKER}/${prefix}/d${i}`,
  })
  await api('POST', `/api/myntrix/devices/${d.id}/connect`)
  devices.push(d.id)
}
const publisher: MqttClient = await connectAsync(BROKER, { reconnectPeriod: 0 })
let load: NodeJS.Timeout | null = null
let tick = 0
function startLoad() {
  // 10 Hz per device, spread over the 100 ms: 10 devices every 10 ms.
  load = setInterval(() => {
    const slot = tick++ % 10
    for (let i = slot * 10; i < slot * 10 + 10; i++) {
      const temperature = 205 + Math.sin(tick / 50 + i) * 3
      publisher.publish(`${prefix}/d${i}/telemetry`, JSON.stringify({ temperature, targetTemperature: 205 }))
    }
  }, 10)
}

// ---- rules ------------------------------------------------------------------
/** 10 per device, none of which holds under the load's readings (so nothing is written). */
function deviceRules(deviceId: string, n: number) {
  const c = (extra: Record<string, unknown>) => ({
    source: 'device',
    deviceId,
    metric: 'temperature',
    ...extra,
  })
  const kinds = [
    c({ operator: '>', threshold: 300, clearThreshold: 290 }),
    c({ operator: '<', threshold: 100 }),
    c({ operator: '>=', threshold: 280 }),
    c({ operator: '<=', threshold: 20 }),
    c({ kind: 'below-target', targetMetric: 'targetTemperature', delta: 15 }),
    c({ kind: 'above-target', targetMetric: 'targetTemperature', delta: 15 }),
    c({ kind: 'no-rise', targetMetric: 'targetTemperature', delta: 5 }),
    { ...c({ operator: '>', threshold: 1000 }), metric: 'targetTemperature' },
    c({ operator: '>', threshold: 260 }),
    c({ operator: '<', threshold: 150 }),
  ]
  return kinds.slice(0, n).map((condition, k) => ({ name: `r${k}`, condition, forSeconds: k % 3 }))
}
const HOST_METRICS = ['cpu.percent', 'memory.percent', 'swap.percent', 'disk.percent', 'load.1']
let ruleIds: string[] = []
async function createRules() {
  for (const id of devices)
    for (const body of deviceRules(id, RULES_PER_DEVICE))
      ruleIds.push((await api('POST', '/api/myntrix/alert-rules', body)).id)
  for (let k = 0; k < HOST_RULES; k++) {
    const metric = HOST_METRICS[k % HOST_METRICS.length]!
    const body = { name: `h${k}`, condition: { source: 'host', metric, operator: '>', threshold: 1e9 } }
    ruleIds.push((await api('POST', '/api/myntrix/alert-rules', body)).id)
  }
}
async function deleteRules() {
  for (const id of ruleIds) await api('DELETE', `/api/myntrix/alert-rules/${id}`)
  ruleIds = []
}
async function measure(): Promise<number> {
  await sleep(3000)
  const t0 = performance.now()
  const c0 = cpuTicks()
  await sleep(seconds * 1000)
  const c1 = cpuTicks()
  return ((c1 - c0) / clockTicks / ((performance.now() - t0) / 1000)) * 100
}

const results: Record<string, unknown> = { node: process.version, seconds, reps, clockTicks }
startLoad()
const cpu: { without: number[]; with: number[] } = { without: [], with: [] }
for (let r = 0; r < reps; r++) {
  cpu.without.push(await measure())
  await createRules()
  cpu.with.push(await measure())
  if (r < reps - 1) await deleteRules()
}
results.cpu = cpu
results.loadAfterCpu = loadavg()
console.log('CPU % of one core without rules', cpu.without.map((x) => x.toFixed(2)).join(' / '))
console.log('CPU % of one core with 1,000 + 20 rules', cpu.with.map((x) => x.toFixed(2)).join(' / '))

// ---- latency: reading -> webhook, with the load and the rules on ------------
const hook = await api('POST', '/api/myntrix/notification-rules', {
  name: 'bench',
  filter: { kinds: ['alert.firing', 'alert.resolved'] },
  cooldownSeconds: 0,
  sink: { type: 'webhook', url: `${receiverUrl}/hook` },
})
const spikeRule = await api('POST', '/api/myntrix/alert-rules', {
  name: 'spike',
  condition: { source: 'device', deviceId: devices[0], metric: 'spike', operator: '>', threshold: 1000 },
  cooldownSeconds: 0,
})
const latencies: number[] = []
for (let i = 0; i < latencyRounds; i++) {
  const value = 1001 + i
  const t0 = performance.now()
  await publisher.publishAsync(`${prefix}/d0/telemetry`, JSON.stringify({ spike: value }), { qos: 1 })
  await until(() => arrivals.some((a) => a.body.kind === 'alert.firing' && a.body.details.value === value))
  latencies.push(arrivals.find((a) => a.body.details.value === value)!.at - t0)
  const seen = arrivals.length
  await publisher.publishAsync(`${prefix}/d0/telemetry`, JSON.stringify({ spike: 0 }), { qos: 1 })
  await until(() => arrivals.length > seen)
}
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!
results.latencyMs = {
  p50: pct(latencies, 0.5),
  p99: pct(latencies, 0.99),
  max: Math.max(...latencies),
  n: latencies.length,
}
results.loadAfterLatency = loadavg()
console.log('reading -> webhook ms', results.latencyMs)
if (load) clearInterval(load)
await deleteRules()
await api('DELETE', `/api/myntrix/alert-rules/${spikeRule.id}`)
await sleep(1000)

// ---- burst: 10,000 events ---------------------------------------------------
const burstRule = await api('POST', '/api/myntrix/alert-rules', {
  name: 'burst',
  condition: { source: 'device', deviceId: devices[1], metric: 'burst', operator: '>', threshold: 0.5 },
  cooldownSeconds: 0,
})
const deliveryCount = async () => {
  const res = await fetch(`${base}/api/myntrix/notification-rules/${hook.id}/deliveries?limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  })
  return Number(res.headers.get('x-total-count'))
}
const recordedBefore = await deliveryCount()
const before = arrivals.length
const t0 = performance.now()
const messages = burstEvents // one reading per event: 1 fires, 0 resolves
const burstAlerts = async () => {
  const res = await fetch(`${base}/api/myntrix/alerts?ruleId=${burstRule.id}&limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  })
  return Number(res.headers.get('x-total-count'))
}
// Mosquitto drops what a subscriber has not taken beyond its queue (max_queued_messages, 1,000 by
// default), so the readings go in chunks of 500, each once the server has recorded the previous
// one's alerts: the broker loses nothing, and the events still pile up in the outbox far faster
// than the webhook takes them.
const CHUNK = 500
let brokerShortfall = 0
for (let i = 0; i < messages; i += CHUNK) {
  const end = Math.min(messages, i + CHUNK)
  const batch: Promise<unknown>[] = []
  for (let k = i; k < end; k++) {
    batch.push(
      publisher.publishAsync(`${prefix}/d1/telemetry`, JSON.stringify({ burst: k % 2 === 0 ? 1 : 0 }), {
        qos: 1,
      }),
    )
  }
  await Promise.all(batch)
  const deadline = Date.now() + 60_000
  while ((await burstAlerts()) < Math.ceil(end / 2) && Date.now() < deadline) await sleep(20)
  brokerShortfall = Math.ceil(end / 2) - (await burstAlerts())
}
const published = performance.now() - t0
let delivered = 0
try {
  const expected = (await burstAlerts()) * 2
  await until(() => arrivals.length - before >= expected, 600_000)
} catch {
  // reported below as lost
}
const elapsed = performance.now() - t0
const burstIds = new Set(arrivals.slice(before).map((a) => a.body.id))
delivered = burstIds.size
const alerts = await fetch(`${base}/api/myntrix/alerts?ruleId=${burstRule.id}&limit=1`, {
  headers: { authorization: `Bearer ${token}` },
})
const raised = Number(alerts.headers.get('x-total-count'))
results.burst = {
  readings: messages,
  alertsRaised: raised,
  alertsShortOfReadings: brokerShortfall,
  eventsExpected: raised * 2,
  deliveredDistinct: delivered,
  duplicates: arrivals.length - before - delivered,
  deliveriesRecorded: (await deliveryCount()) - recordedBefore,
  publishMs: Math.round(published),
  allDeliveredMs: Math.round(elapsed),
}
results.loadAfterBurst = loadavg()
console.log('burst', results.burst)
console.log(JSON.stringify(results))

await publisher.endAsync()
receiver.closeAllConnections()
receiver.close()
server.kill('SIGTERM')
await new Promise((r) => server.once('exit', r))
rmSync(dataDir, { recursive: true, force: true })
