// Agents benchmark: Myntrix's supervisor against PM2 on the same workload, in one run.
//   cd bench/agents && npm install && node run.mjs
// Env: BENCH_AGENTS (50), BENCH_CRASHES (10), BENCH_IDLE_S (30).
// Prints a Markdown table; raw numbers go to results-<time>.json.

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startMyntrix } from './myntrix-server.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '../..')
const AGENT = path.join(here, 'idle-agent.mjs')
const N = Number(process.env.BENCH_AGENTS ?? 50)
const CRASHES = Math.min(N, Number(process.env.BENCH_CRASHES ?? 10))
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30)
const TICKS = 100 // USER_HZ

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Agents report "<name> <pid>" over TCP when they run: the same clock for both supervisors. */
class Hellos {
  constructor() {
    this.latest = new Map() // name -> {pid, at}
    this.waiters = []
    this.server = net.createServer((s) => {
      let buf = ''
      s.on('data', (c) => {
        buf += c
      })
      s.on('end', () => {
        const at = performance.now()
        const [name, pid] = buf.trim().split(' ')
        this.latest.set(name, { pid: Number(pid), at })
        for (const w of [...this.waiters]) w()
      })
      s.on('error', () => {})
    })
  }
  listen() {
    return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r(this.server.address().port)))
  }
  /** Resolves when `check()` is true, re-checked on every hello. */
  until(check) {
    return new Promise((resolve) => {
      const w = () => {
        if (check()) {
          this.waiters = this.waiters.filter((x) => x !== w)
          resolve()
        }
      }
      this.waiters.push(w)
      w()
    })
  }
  close() {
    return new Promise((r) => this.server.close(r))
  }
}

function procSample(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return { ticks: Number(f[11]) + Number(f[12]), rssBytes: rssKb * 1024 }
}

async function idleCost(pid, seconds) {
  await sleep(2000) // let start-up work settle
  const a = procSample(pid)
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const b = procSample(pid)
  const wallS = (performance.now() - t0) / 1000
  return { cpuPercent: ((b.ticks - a.ticks) / TICKS / wallS) * 100, rssMb: b.rssBytes / 1024 / 1024 }
}

async function crashLatencies(hellos, names, kill) {
  const out = []
  for (const name of names) {
    const before = hellos.latest.get(name)
    const t0 = performance.now()
    kill(before.pid)
    await hellos.until(() => {
      const now = hellos.latest.get(name)
      return now.pid !== before.pid && now.at >= t0
    })
    out.push(hellos.latest.get(name).at - t0)
    await sleep(200)
  }
  return out
}

// ---- Myntrix ---------------------------------------------------------------

function bundle(entry, name) {
  const outfile = path.join(here, '.build', name)
  const built = spawnSync(
    path.join(root, 'node_modules/.bin/esbuild'),
    [
      entry,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--packages=external',
      '--target=node20',
      `--outfile=${outfile}`,
      '--log-level=warning',
    ],
    { stdio: 'inherit' },
  )
  if (built.status !== 0) throw new Error('esbuild failed')
  return outfile
}

async function benchMyntrix(hellos, helloPort) {
  const main = bundle(path.join(root, 'src/main.ts'), 'main.mjs')
  const { pid, api, stop } = await startMyntrix(main, { cwd: root })
  const ids = []
  for (let i = 0; i < N; i++) {
    const name = `myx-${i}`
    const a = await api('POST', '/api/myntrix/agents', {
      name,
      configuration: {
        command: [process.execPath, AGENT],
        env: { NAME: name, HELLO_PORT: String(helloPort) },
      },
    })
    ids.push(a.id)
  }
  const t0 = performance.now()
  const started = await Promise.all(ids.map((id) => api('POST', `/api/myntrix/agents/${id}/start`)))
  const spawnedMs = performance.now() - t0
  if (!started.every((a) => a.status === 'running')) throw new Error('not all running')
  await hellos.until(() => ids.every((_, i) => hellos.latest.has(`myx-${i}`)))
  const firstLineMs = Math.max(...ids.map((_, i) => hellos.latest.get(`myx-${i}`).at)) - t0

  const crashes = await crashLatencies(
    hellos,
    ids.slice(0, CRASHES).map((_, i) => `myx-${i}`),
    (pid) => process.kill(pid, 'SIGKILL'),
  )
  const idle = await idleCost(pid, IDLE_S)
  await stop()
  return { spawnedMs, firstLineMs, crashMedianMs: median(crashes), crashes, ...idle }
}

// ---- the Supervisor class alone (no HTTP, database or other areas) ---------

async function benchSupervisorOnly(hellos, helloPort) {
  const entry = bundle(path.join(here, 'supervisor-only.ts'), 'supervisor-only.mjs')
  const t0 = performance.now()
  const child = spawn(process.execPath, [entry], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      BENCH_AGENTS: String(N),
      AGENT_SCRIPT: AGENT,
      HELLO_PORT: String(helloPort),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  child.stdout.resume()
  const names = Array.from({ length: N }, (_, i) => `sup-${i}`)
  await hellos.until(() => names.every((n) => hellos.latest.has(n)))
  const firstLineMs = performance.now() - t0
  const idle = await idleCost(child.pid, IDLE_S)
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
  return { firstLineMs, ...idle }
}

// ---- PM2 -------------------------------------------------------------------

async function benchPm2(hellos, helloPort) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-bench-'))
  process.env.PM2_HOME = home
  const { default: pm2 } = await import('pm2')
  const call = (fn, ...args) =>
    new Promise((res, rej) => fn.call(pm2, ...args, (e, v) => (e ? rej(e) : res(v))))
  await call(pm2.connect, false)
  const names = Array.from({ length: N }, (_, i) => `pm2-${i}`)
  const t0 = performance.now()
  await Promise.all(
    names.map((name) =>
      call(pm2.start, {
        name,
        script: AGENT,
        env: { NAME: name, HELLO_PORT: String(helloPort) },
        autorestart: true,
      }),
    ),
  )
  const spawnedMs = performance.now() - t0
  await hellos.until(() => names.every((n) => hellos.latest.has(n)))
  const firstLineMs = Math.max(...names.map((n) => hellos.latest.get(n).at)) - t0

  const crashes = await crashLatencies(hellos, names.slice(0, CRASHES), (pid) => process.kill(pid, 'SIGKILL'))
  const godPid = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'))
  const idle = await idleCost(godPid, IDLE_S)
  await call(pm2.delete, 'all')
  await call(pm2.killDaemon)
  pm2.disconnect()
  fs.rmSync(home, { recursive: true, force: true })
  return { spawnedMs, firstLineMs, crashMedianMs: median(crashes), crashes, ...idle }
}

// ---- main --------------------------------------------------------------------

const hellos = new Hellos()
const helloPort = await hellos.listen()
const myntrix = await benchMyntrix(hellos, helloPort)
const alone = await benchSupervisorOnly(hellos, helloPort)
const pm2 = await benchPm2(hellos, helloPort)
await hellos.close()

const fmt = (v, unit) =>
  v === undefined ? '-' : `${v.toFixed(unit === '%' ? 2 : unit === 'MB' ? 1 : 0)} ${unit}`
const rows = [
  [`${N} agents: API calls to all spawned`, 'spawnedMs', 'ms'],
  [`${N} agents: API calls to all running their code (first line)`, 'firstLineMs', 'ms'],
  [`crash (SIGKILL) to running again, median of ${CRASHES}`, 'crashMedianMs', 'ms'],
  [`supervisor CPU, ${N} idle agents, ${IDLE_S} s`, 'cpuPercent', '%'],
  [`supervisor RSS, ${N} idle agents`, 'rssMb', 'MB'],
]
console.log(`\nnode ${process.version}, ${os.cpus().length} CPUs, ${new Date().toISOString()}\n`)
console.log('| measure | Myntrix server | Myntrix supervisor alone | PM2 |')
console.log('| --- | --- | --- | --- |')
for (const [label, key, unit] of rows) {
  const a = key === 'cpuPercent' || key === 'rssMb' ? alone[key] : undefined
  console.log(`| ${label} | ${fmt(myntrix[key], unit)} | ${fmt(a, unit)} | ${fmt(pm2[key], unit)} |`)
}
fs.writeFileSync(
  path.join(here, `results-${Date.now()}.json`),
  JSON.stringify({ node: process.version, agents: N, myntrix, supervisorAlone: alone, pm2 }, null, 2),
)
process.exit(0)
