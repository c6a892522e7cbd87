// Scale-out figures (docs/PERFORMANCE.md, "Scale-out"), real server processes
// on a PostgreSQL database the bench creates and drops (one fresh schema per
// phase) and the local Redis:
// 1. fan-out: N sim://marlin devices reporting at 10 Hz, held spread over three
//    instances, watched by M telemetry WebSockets spread over the three, beside
//    the same load on one instance without Redis: delivered/expected (expected
//    from each holder's own record of the readings it took), latency from the
//    holder's reading (its frame's ts) to the client, each instance's CPU and RSS;
// 2. command latency through a node that does not hold the device, against the
//    holder directly (interleaved, same device);
// 3. take-over after kill -9 of the holder of an unpinned device: median of R
//    with short leases (TTL 3 s, renewal 1 s), and D runs with the default
//    lease settings (TTL 15 s, renewal 5 s).
//   npx tsx bench/scale-out/run.ts [--devices 100] [--clients 300] [--seconds 20]
//     [--commands 200] [--takeovers 5] [--default-takeovers 1] [--server dist|tsx]
//     [--only fanout|commands|takeover]
// --server dist (default) runs the build (`node dist/main.js`, built first when
// older than src/); tsx runs the sources as the cluster tests do.
// MYNTRIX_BENCH_PG_URL: the PostgreSQL to create the database on
// (default postgres://postgres@127.0.0.1:5432/postgres).

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import WebSocket from 'ws'
import { ClusterServers } from '../../test/cluster/servers.js'
import { REDIS_URL } from '../../test/helpers/redis.js'
import { newestMtimeMs, root } from '../../test/helpers/server.js'

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const option = (name: string) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined
const DEVICES = arg('--devices', 100)
const CLIENTS = arg('--clients', 300)
const SECONDS = arg('--seconds', 20)
const COMMANDS = arg('--commands', 200)
const TAKEOVERS = arg('--takeovers', 5)
const DEFAULT_TAKEOVERS = arg('--default-takeovers', 1)
const SERVER = option('--server') ?? 'dist'
const ONLY = option('--only')
const API = '/api/myntrix/devices'
const SHORT_LEASE = { MYNTRIX_LEASE_TTL_MS: '3000', MYNTRIX_LEASE_RENEW_MS: '1000' }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN
const ticks = (pid: number) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(f[11]) + Number(f[12]) // utime + stime, in clock ticks (100/s)
}
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

// The server: the build, rebuilt when the sources are newer, or tsx on the sources.
if (SERVER !== 'dist' && SERVER !== 'tsx') throw new Error('--server dist|tsx')
const dist = path.join(root, 'dist/main.js')
if (
  SERVER === 'dist' &&
  (!fs.existsSync(dist) || newestMtimeMs(path.join(root, 'src')) > fs.statSync(dist).mtimeMs)
) {
  console.log('building the server (npm run build:server)')
  execFileSync('npm', ['run', 'build:server'], { cwd: root, stdio: 'inherit' })
}
const command = SERVER === 'dist' ? ['node', 'dist/main.js'] : undefined

// A database of the bench's own, dropped at the end; the test engines make a schema in it per phase.
const adminUrl = process.env.MYNTRIX_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const dbName = `myntrix_scale_bench_${randomBytes(4).toString('hex')}`
const admin = async (sql: string) => {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}
await admin(`create database ${dbName}`)
const benchUrl = new URL(adminUrl)
benchUrl.pathname = `/${dbName}`
process.env.MYNTRIX_TEST_DATABASE_URL = benchUrl.toString()
// Imported now: the engines read MYNTRIX_TEST_DATABASE_URL when loaded.
const { testEngines } = await import('../../test/helpers/engines.js')
const postgres = testEngines().find((e) => e.name === 'postgres')!

async function withCluster<T>(
  names: string[],
  redis: boolean,
  env: Record<string, string>,
  work: (c: ClusterServers) => Promise<T>,
) {
  const db = await postgres.createDatabase()
  const cluster = new ClusterServers(
    db,
    redis ? REDIS_URL : null,
    { MYNTRIX_LOG_LEVEL: 'warn', ...env },
    command,
  )
  try {
    for (const name of names) await cluster.boot(name)
    return await work(cluster)
  } finally {
    await cluster.stopAll()
    await db.drop()
  }
}

async function simDevice(c: ClusterServers, through: string, name: string): Promise<string> {
  const created = await c.call(through, 'POST', API, {
    name,
    connectionString: 'sim://marlin',
    // Polled M105 every 100 ms: 10 readings a second (M155 auto-report counts whole seconds).
    configuration: { temperatureReport: 'poll', temperatureIntervalMs: 100 },
  })
  if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`)
  return created.body.id as string
}

/** The readings a device's holder took (its own in-memory record, GET /telemetry on the holder). */
async function readingsTaken(c: ClusterServers, id: string, solo: string | null) {
  const holder = solo ?? (await c.holder('device', id))?.name
  if (!holder) throw new Error(`no holder for ${id}`)
  const res = await c.call(holder, 'GET', `${API}/${id}/telemetry?limit=1000`)
  if (res.status !== 200) throw new Error(`telemetry: ${JSON.stringify(res.body)}`)
  return { holder, readings: (res.body as unknown as { ts: string }[]).map((s) => s.ts) }
}

async function fanout(names: string[], redis: boolean) {
  return withCluster(names, redis, {}, async (c) => {
    const ids: string[] = []
    for (let i = 0; i < DEVICES; i++) ids.push(await simDevice(c, names[0]!, `sim ${i}`))
    // Connected through node i % n: each node holds a third of them.
    await Promise.all(
      ids.map(async (id, i) => {
        const res = await c.call(names[i % names.length]!, 'POST', `${API}/${id}/connect`)
        if (res.body.status !== 'connected') throw new Error(`connect: ${JSON.stringify(res.body)}`)
      }),
    )
    const token = await c.token()
    const seen = new Map<number, Set<string>>() // client -> device frame ts seen in the window
    const latencies: number[] = []
    let measuring = false
    let windowStart = 0
    const sockets: WebSocket[] = []
    for (let k = 0; k < CLIENTS; k++) {
      const node = names[k % names.length]!
      const device = ids[k % ids.length]!
      const ws = new WebSocket(
        `${c.url(node).replace('http', 'ws')}/ws/myntrix/telemetry/${device}?token=${token}`,
      )
      seen.set(k, new Set())
      ws.on('message', (m) => {
        const at = Date.now()
        if (!measuring) return
        const frame = JSON.parse(String(m)) as { type: string; ts?: string }
        if (frame.type !== 'telemetry' || !frame.ts || Date.parse(frame.ts) < windowStart) return
        latencies.push(at - Date.parse(frame.ts))
        seen.get(k)!.add(frame.ts)
      })
      sockets.push(ws)
    }
    await Promise.all(sockets.map((ws) => new Promise((r) => ws.once('open', r))))
    await sleep(3000) // warm-up
    const pids = names.map((n) => c.serverPid(n))
    const before = pids.map(ticks)
    windowStart = Date.now()
    measuring = true
    await sleep(SECONDS * 1000)
    const windowEnd = Date.now()
    measuring = false
    const after = pids.map(ticks)
    const rss = pids.map((pid) => Math.round(rssMb(pid)))
    // Expected: every reading a holder took from the window's start to a second before its end
    // (a second for the last ones to arrive), once per client watching that device.
    const taken = new Map<string, string[]>()
    const held: Record<string, number> = {} // node -> devices it holds
    for (const id of ids) {
      const { holder, readings } = await readingsTaken(c, id, redis ? null : names[0]!)
      held[holder] = (held[holder] ?? 0) + 1
      taken.set(
        id,
        readings.filter((ts) => Date.parse(ts) >= windowStart && Date.parse(ts) < windowEnd - 1000),
      )
    }
    let expected = 0
    let delivered = 0
    for (let k = 0; k < CLIENTS; k++) {
      const readings = taken.get(ids[k % ids.length]!)!
      expected += readings.length
      const mine = seen.get(k)!
      delivered += readings.filter((ts) => mine.has(ts)).length
    }
    for (const ws of sockets) ws.close()
    latencies.sort((a, b) => a - b)
    const seconds = (windowEnd - windowStart) / 1000
    const readings = [...taken.values()].reduce((n, s) => n + s.length, 0)
    return {
      instances: names.length,
      held,
      readingsPerSecond: Math.round(readings / (seconds - 1)),
      framesPerSecond: Math.round(latencies.length / seconds),
      expected,
      delivered,
      deliveredRatio: expected === 0 ? NaN : delivered / expected,
      p50Ms: pct(latencies, 0.5),
      p99Ms: pct(latencies, 0.99),
      maxMs: latencies.at(-1) ?? NaN,
      cpuPercent: names.map((_, i) => Math.round(((after[i]! - before[i]!) / seconds) * 10) / 10),
      rssMb: rss,
    }
  })
}

async function commandLatency() {
  return withCluster(['node-a', 'node-b'], true, {}, async (c) => {
    const id = await simDevice(c, 'node-a', 'commanded')
    await c.call('node-a', 'POST', `${API}/${id}/connect`)
    const holder = (await c.holder('device', id))?.name
    if (holder !== 'node-a') throw new Error(`expected node-a to hold the device, got ${holder}`)
    const times: Record<string, number[]> = { 'node-a': [], 'node-b': [] }
    for (let i = 0; i < COMMANDS; i++) {
      for (const node of i % 2 ? ['node-a', 'node-b'] : ['node-b', 'node-a']) {
        const t0 = performance.now()
        const res = await c.call(node, 'POST', `${API}/${id}/command`, { command: 'M114' })
        if (res.status !== 200) throw new Error(`command: ${JSON.stringify(res.body)}`)
        times[node]!.push(performance.now() - t0)
      }
    }
    const stat = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b)
      return {
        n: s.length,
        p50Ms: Math.round(pct(s, 0.5) * 100) / 100,
        p99Ms: Math.round(pct(s, 0.99) * 100) / 100,
      }
    }
    return { holder: stat(times['node-a']!), nonHolder: stat(times['node-b']!) }
  })
}

async function takeovers(runs: number, env: Record<string, string>) {
  return withCluster(['node-a', 'node-b'], true, env, async (c) => {
    const id = await simDevice(c, 'node-a', 'taken over')
    await c.call('node-a', 'POST', `${API}/${id}/connect`)
    const results: number[] = []
    for (let r = 0; r < runs; r++) {
      const victim = (await c.holder('device', id))!.name
      const survivor = victim === 'node-a' ? 'node-b' : 'node-a'
      const killedAt = Date.now()
      await c.kill(victim)
      for (;;) {
        const h = await c.holder('device', id)
        if (
          h?.name === survivor &&
          (await c.call(survivor, 'GET', `${API}/${id}`)).body.status === 'connected'
        )
          break
        await sleep(50)
      }
      results.push(Date.now() - killedAt)
      await c.boot(victim)
    }
    const sorted = [...results].sort((a, b) => a - b)
    return { env, runsMs: results, medianMs: sorted[Math.floor(sorted.length / 2)] }
  })
}

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
const loads: Record<string, string> = { start: loadavg() }
console.log(
  `scale-out bench (${SERVER}): ${DEVICES} devices at 10 Hz, ${CLIENTS} clients, ${SECONDS} s; ` +
    `load average ${loads.start}`,
)
const phase = async <T>(name: string, label: string, run: () => Promise<T>) => {
  if (ONLY && ONLY !== name) return null
  const result = await run()
  loads[label] = loadavg()
  console.log(label, JSON.stringify(result), `(load average ${loads[label]})`)
  return result
}
try {
  const three = await phase('fanout', 'three instances', () => fanout(['node-a', 'node-b', 'node-c'], true))
  const one = await phase('fanout', 'one instance', () => fanout(['solo'], false))
  const commands = await phase('commands', 'command latency', commandLatency)
  const shortLease = await phase('takeover', 'take-over after kill -9, short lease', () =>
    takeovers(TAKEOVERS, SHORT_LEASE),
  )
  const defaultLease =
    DEFAULT_TAKEOVERS > 0
      ? await phase('takeover', 'take-over after kill -9, default lease', () =>
          takeovers(DEFAULT_TAKEOVERS, {}),
        )
      : null
  fs.writeFileSync(
    new URL(`./results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url),
    JSON.stringify(
      {
        server: SERVER,
        node: process.version,
        settings: { DEVICES, CLIENTS, SECONDS, COMMANDS, TAKEOVERS, DEFAULT_TAKEOVERS },
        loads,
        three,
        one,
        commands,
        takeover: { shortLease, defaultLease },
      },
      null,
      2,
    ),
  )
} finally {
  await admin(`drop database if exists ${dbName} with (force)`)
}
