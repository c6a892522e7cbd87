// The request path: Myntrix beside a bare Fastify and a floor that does the same
// work as Myntrix's agents list and nothing else, measured in one run.
//   cd bench/http && npm install && node run.mjs
// Env: BENCH_CONNECTIONS (10), BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (3),
// BENCH_ROUNDS (2: every subject once per round, the median round reported),
// BENCH_AGENTS (20), BENCH_SKIP_BUILD=1 (reuse dist/ as it is), BENCH_SUBJECTS
// (bare,floor,myntrix,floor-no-user), BENCH_TARGETS (a pattern: only targets whose name
// matches, e.g. healthz), BENCH_LOG_LEVEL (Myntrix's, default info), BENCH_CPU_PROF=<dir> (each subject writes a V8 CPU
// profile there when it stops: `node --cpu-prof`).
// Each subject is its own process, started for its turn and stopped after it,
// so only one server runs while it is measured; the load generator
// (autocannon) runs in this process. Prints a Markdown table; raw numbers go to
// results-<time>.json (ignored by git).

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { bundleSubject } from '../bundle.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '../..')
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const AGENTS = Number(process.env.BENCH_AGENTS ?? 20)
const ONLY = new RegExp(process.env.BENCH_TARGETS ?? '')
const SUBJECTS = (process.env.BENCH_SUBJECTS ?? 'bare,floor,myntrix,floor-no-user').split(',')
const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100)
const PASSWORD = 'bench-password-1'
const JWT_SECRET = 'bench-secret-0123456789abcdef0123456789abcdef'
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

if (process.env.BENCH_SKIP_BUILD !== '1') {
  // The server only: the console is not on the measured path.
  const built = spawnSync('npm', ['run', 'build:server'], { cwd: root, stdio: 'inherit' })
  if (built.status !== 0) throw new Error('npm run build:server failed')
}
const floorJs = path.join(here, '.build/floor.mjs')
await bundleSubject(path.join(here, 'subjects/floor.ts'), floorJs, [
  'fastify',
  'fast-jwt',
  'kysely',
  'better-sqlite3',
  'pg',
])

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-http-bench-'))
const databaseUrl = `sqlite://${path.join(dataDir, 'myntrix.db')}`
// Only the measured turns are profiled, not the set-up.
let profiling = false
let nextPort = 20000 + Math.floor(Math.random() * 20000)

/** Starts a subject process and resolves once its /healthz (or its "listening" line) answers. */
async function startSubject(kind) {
  const port = nextPort++
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port) }
  let args
  let logFile = 'ignore'
  if (kind === 'myntrix') {
    args = [path.join(root, 'dist/main.js')]
    Object.assign(env, {
      MYNTRIX_DATA_DIR: dataDir,
      MYNTRIX_DATABASE_URL: databaseUrl,
      MYNTRIX_PORT: String(port),
      MYNTRIX_HOST: '127.0.0.1',
      MYNTRIX_ADMIN_PASSWORD: PASSWORD,
      MYNTRIX_JWT_SECRET: JWT_SECRET,
      MYNTRIX_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    })
    // The request log goes where an operator's would: a file (not a pipe this process must drain).
    logFile = fs.openSync(path.join(dataDir, 'myntrix.log'), 'a')
  } else if (kind === 'floor' || kind === 'floor-no-user') {
    args = [floorJs]
    Object.assign(env, { MYNTRIX_DATABASE_URL: databaseUrl, MYNTRIX_JWT_SECRET: JWT_SECRET })
    if (kind === 'floor-no-user') env.FLOOR_USER_LOOKUP = '0'
  } else {
    args = [path.join(here, 'subjects/bare.mjs')]
  }
  if (profiling) args.unshift('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`)
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', logFile, 'inherit'] })
  const base = `http://127.0.0.1:${port}`
  const probe = kind.startsWith('floor') ? '/api/myntrix/agents' : '/healthz'
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode}`)
    try {
      const res = await fetch(`${base}${probe}`)
      if (res.status === 200 || res.status === 401) break
    } catch {}
    if (i > 600) throw new Error(`${kind} did not answer within 30 s`)
    await sleep(50)
  }
  return {
    base,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve)
        child.kill('SIGTERM')
      }),
  }
}

/** The 20 agents and the admin token, created through the API of the real server (not started). */
async function prepare() {
  const server = await startSubject('myntrix')
  const login = await fetch(`${server.base}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  })
  if (!login.ok) throw new Error(`login: ${login.status} ${await login.text()}`)
  const { access_token: token } = await login.json()
  for (let i = 0; i < AGENTS; i++) {
    const res = await fetch(`${server.base}/api/myntrix/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `bench-${i}`,
        type: 'worker',
        configuration: { command: ['node', '-e', 'setInterval(() => {}, 1000)'], env: { INDEX: String(i) } },
      }),
    })
    if (res.status !== 201) throw new Error(`create agent: ${res.status} ${await res.text()}`)
  }
  await server.stop()
  return token
}

function load(base, urlPath, headers, seconds) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `${base}${urlPath}`, connections: CONNECTIONS, duration: seconds, headers },
      (err, r) => (err ? reject(err) : resolve(r)),
    )
  })
}

/** The process's CPU time so far in seconds (utime + stime, from /proc/<pid>/stat). */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / TICKS
}

async function measure(server, target, token) {
  const headers = target.auth ? { authorization: `Bearer ${token}` } : {}
  await load(server.base, target.path, headers, WARMUP)
  const cpu0 = cpuSeconds(server.pid)
  const r = await load(server.base, target.path, headers, SECONDS)
  const cpu = cpuSeconds(server.pid) - cpu0
  const bad = r.non2xx + r.errors + r.timeouts
  if (bad > 0) throw new Error(`${target.name}: ${bad} failed requests (non-2xx ${r.non2xx})`)
  return {
    reqPerSec: r.requests.average,
    // Server CPU per answered request: what the machine's other load disturbs least.
    cpuUsPerReq: (cpu / r.requests.total) * 1e6,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    total: r.requests.total,
  }
}

const TARGETS = [
  { name: 'bare Fastify /healthz', subject: 'bare', path: '/healthz', auth: false },
  { name: 'floor GET /api/myntrix/agents', subject: 'floor', path: '/api/myntrix/agents', auth: true },
  { name: 'myntrix /healthz (log level info)', subject: 'myntrix', path: '/healthz', auth: false },
  { name: 'myntrix GET /api/myntrix/agents', subject: 'myntrix', path: '/api/myntrix/agents', auth: true },
  // What reading the user on every request costs (the auth hook does, so that
  // revocation, role changes and disabling apply at once).
  {
    name: 'floor without the user lookup',
    subject: 'floor-no-user',
    path: '/api/myntrix/agents',
    auth: true,
  },
]

const token = await prepare()
const check = await (async () => {
  const server = await startSubject('myntrix')
  const res = await fetch(`${server.base}/api/myntrix/agents`, {
    headers: { authorization: `Bearer ${token}` },
  })
  const body = await res.json()
  await server.stop()
  return body.length
})()
if (check !== AGENTS) throw new Error(`the agents list has ${check} agents, expected ${AGENTS}`)

profiling = Boolean(process.env.BENCH_CPU_PROF)
const results = Object.fromEntries(TARGETS.map((t) => [t.name, []]))
for (let round = 1; round <= ROUNDS; round++) {
  for (const subject of SUBJECTS) {
    const server = await startSubject(subject)
    try {
      for (const target of TARGETS.filter((t) => t.subject === subject && ONLY.test(t.name))) {
        const r = await measure(server, target, token)
        results[target.name].push(r)
        console.error(
          `round ${round}: ${target.name}: ${Math.round(r.reqPerSec)} req/s, ${Math.round(r.cpuUsPerReq)} µs CPU/request`,
        )
      }
    } finally {
      await server.stop()
    }
  }
}

const rate = (name) => median(results[name].map((r) => r.reqPerSec))
const cpuPerReq = (name) => median(results[name].map((r) => r.cpuUsPerReq))
const rows = TARGETS.filter((t) => results[t.name].length > 0).map((t) => ({
  target: t.name,
  reqPerSec: Math.round(rate(t.name)),
  rounds: results[t.name].map((r) => Math.round(r.reqPerSec)),
  cpuUsPerReq: Math.round(cpuPerReq(t.name)),
  p50Ms: median(results[t.name].map((r) => r.p50Ms)),
  p99Ms: median(results[t.name].map((r) => r.p99Ms)),
}))
// Two readings of each ratio: throughput (req/s, what a client sees, disturbed by
// whatever else the machine runs) and server CPU per request inverted (the
// capacity one core would give, disturbed far less).
const ratio = (a, b) => ({
  reqPerSec: rate(TARGETS[a].name) / rate(TARGETS[b].name),
  cpu: cpuPerReq(TARGETS[b].name) / cpuPerReq(TARGETS[a].name),
})
const ratios = {
  agentsOverFloor: ratio(3, 1),
  healthzOverBare: ratio(2, 0),
  floorOverBare: ratio(1, 0),
  ...(results[TARGETS[4].name].length > 0 ? { floorOverFloorWithoutUser: ratio(1, 4) } : {}),
}
const fastifyVersion = JSON.parse(
  fs.readFileSync(path.join(root, 'node_modules/fastify/package.json')),
).version
const conditions = `node ${process.version}, fastify ${fastifyVersion}, ${os.cpus().length} cores, load average ${os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(
    ' ',
  )}, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${SECONDS} s, ${ROUNDS} rounds (median), ${AGENTS} agents`
console.log(`\n${conditions}`)
console.log('| target | req/s (median) | rounds | server CPU µs/request | p50 ms | p99 ms |')
console.log('| --- | ---: | --- | ---: | ---: | ---: |')
for (const r of rows) {
  console.log(
    `| ${r.target} | ${r.reqPerSec} | ${r.rounds.join(', ')} | ${r.cpuUsPerReq} | ${r.p50Ms} | ${r.p99Ms} |`,
  )
}
const show = (r) => `${r.reqPerSec.toFixed(2)} by req/s, ${r.cpu.toFixed(2)} by CPU/request`
if (TARGETS.slice(0, 4).every((t) => results[t.name].length > 0)) {
  console.log(`\nmyntrix agents list / floor: ${show(ratios.agentsOverFloor)} (target >= 0.5)`)
  console.log(`myntrix /healthz at info / bare: ${show(ratios.healthzOverBare)} (target >= 0.8)`)
  console.log(`floor / bare: ${show(ratios.floorOverBare)}`)
  if (ratios.floorOverFloorWithoutUser) {
    console.log(`floor / floor without the user lookup: ${show(ratios.floorOverFloorWithoutUser)}`)
  }
}
fs.writeFileSync(
  path.join(here, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
  JSON.stringify({ conditions, rows, ratios }, null, 2),
)
fs.rmSync(dataDir, { recursive: true, force: true })
