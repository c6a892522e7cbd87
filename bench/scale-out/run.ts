// Scale-out figures (docs/PERFORMANCE.md, "Scale-out"), real server processes
// on a fresh PostgreSQL schema and the local Redis:
// 1. fan-out: N sim://marlin devices reporting at 10 Hz, held spread over three
//    instances, watched by M telemetry WebSockets spread over the three, beside
//    the same load on one instance without Redis: delivered/sent, latency from
//    the holder's reading (its frame's ts) to the client, each instance's CPU
//    and RSS;
// 2. command latency through a node that does not hold the device, against the
//    holder directly (interleaved, same device);
// 3. take-over after kill -9 of the holder of an unpinned device, with the
//    default lease settings (TTL 15 s, renewal 5 s): median of R.
//   MYNTRIX_TEST_DATABASE_URL=postgres://... npx tsx bench/scale-out/run.ts \
//     [--devices 100] [--clients 300] [--seconds 20] [--commands 200] [--takeovers 5]
//     [--only fanout|commands|takeover]

import fs from 'node:fs'
import WebSocket from 'ws'
import { ClusterServers } from '../../test/cluster/servers.js'
import { testEngines } from '../../test/helpers/engines.js'
import { REDIS_URL } from '../../test/helpers/redis.js'

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const DEVICES = arg('--devices', 100)
const CLIENTS = arg('--clients', 300)
const SECONDS = arg('--seconds', 20)
const COMMANDS = arg('--commands', 200)
const TAKEOVERS = arg('--takeovers', 5)
const API = '/api/myntrix/devices'

const postgres = testEngines().find((e) => e.name === 'postgres')
if (!postgres) throw new Error('set MYNTRIX_TEST_DATABASE_URL to a PostgreSQL database')

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN
const ticks = (pid: number) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(f[11]) + Number(f[12]) // utime + stime, in clock ticks (100/s)
}
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

async function withCluster<T>(
  names: string[],
  redis: boolean,
  env: Record<string, string>,
  work: (c: ClusterServers) => Promise<T>,
) {
  const db = await postgres!.createDatabase()
  const cluster = new ClusterServers(db, redis ? REDIS_URL : null, { MYNTRIX_LOG_LEVEL: 'warn', ...env })
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
    const sent = new Map<string, Set<string>>() // device -> every frame ts any client saw in the window
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
        let s = sent.get(device)
        if (!s) sent.set(device, (s = new Set()))
        s.add(frame.ts)
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
    // Frames read before the end still in flight: a second to arrive, counted only if read in the window.
    measuring = false
    const after = pids.map(ticks)
    let expected = 0
    let delivered = 0
    for (let k = 0; k < CLIENTS; k++) {
      const device = ids[k % ids.length]!
      const all = [...(sent.get(device) ?? [])].filter((ts) => Date.parse(ts) < windowEnd - 1000)
      expected += all.length
      const mine = seen.get(k)!
      delivered += all.filter((ts) => mine.has(ts)).length
    }
    for (const ws of sockets) ws.close()
    latencies.sort((a, b) => a - b)
    const seconds = (windowEnd - windowStart) / 1000
    const sentFrames = [...sent.values()].reduce((n, s) => n + s.size, 0)
    return {
      instances: names.length,
      readingsPerSecond: Math.round(sentFrames / seconds),
      framesPerSecond: Math.round(latencies.length / seconds),
      deliveredRatio: expected === 0 ? NaN : delivered / expected,
      p50Ms: pct(latencies, 0.5),
      p99Ms: pct(latencies, 0.99),
      cpuPercent: names.map((_, i) => Math.round(((after[i]! - before[i]!) / seconds) * 10) / 10),
      rssMb: pids.map((pid) => Math.round(rssMb(pid))),
    }
  })
}

async function commandLatency() {
  return withCluster(['node-a', 'node-b'], true, {}, async (c) => {
    const id = await simDevice(c, 'node-a', 'commanded')
    await c.call('node-a', 'POST', `${API}/${id}/connect`)
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
      return { p50Ms: Math.round(pct(s, 0.5) * 100) / 100, p99Ms: Math.round(pct(s, 0.99) * 100) / 100 }
    }
    return { holder: stat(times['node-a']!), nonHolder: stat(times['node-b']!) }
  })
}

async function takeovers() {
  return withCluster(['node-a', 'node-b'], true, {}, async (c) => {
    const id = await simDevice(c, 'node-a', 'taken over')
    await c.call('node-a', 'POST', `${API}/${id}/connect`)
    const results: number[] = []
    for (let r = 0; r < TAKEOVERS; r++) {
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
    return { runsMs: results, medianMs: sorted[Math.floor(sorted.length / 2)] }
  })
}

const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
console.log(
  `scale-out bench: ${DEVICES} devices at 10 Hz, ${CLIENTS} clients, ${SECONDS} s; load average ${load}`,
)
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null
const phase = async <T>(name: string, label: string, run: () => Promise<T>) => {
  if (only && only !== name) return null
  const result = await run()
  console.log(label, JSON.stringify(result))
  return result
}
const three = await phase('fanout', 'three instances', () => fanout(['node-a', 'node-b', 'node-c'], true))
const one = await phase('fanout', 'one instance', () => fanout(['solo'], false))
const commands = await phase('commands', 'command latency', commandLatency)
const takeover = await phase('takeover', 'take-over after kill -9', takeovers)
fs.writeFileSync(
  new URL(`./results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url),
  JSON.stringify({ load, three, one, commands, takeover }, null, 2),
)
