// Start-up cost of the server, the way `npm start` used to run it (tsx loading
// TypeScript at run time) against the way it runs now (node on the compiled
// dist/): time from spawn to the first 200 from /healthz, and resident memory
// after IDLE_SECONDS of idling — of the server process itself and of the whole
// process tree (tsx runs the server in a child node process).
//
//   npm run build && node bench/console/startup.mjs     # BENCH_RUNS=3 BENCH_IDLE_SECONDS=30

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '../..')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30)

const subjects = [
  { name: 'tsx src/main.ts (before)', argv: [path.join(root, 'node_modules/.bin/tsx'), 'src/main.ts'] },
  { name: 'node dist/main.js (after)', argv: ['node', 'dist/main.js'] },
]

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

function children(pid) {
  const out = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name))
    } catch {}
  }
  return out
}

function tree(pid) {
  return [pid, ...children(pid).flatMap(tree)]
}

function comm(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

/** The process that listens: the deepest node process (tsx's child, or node itself), not esbuild. */
function serverPid(pid) {
  const kids = children(pid).filter((k) => comm(k) === 'node')
  return kids.length ? serverPid(kids[kids.length - 1]) : pid
}

async function once(subject) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-bench-'))
  const port = await freePort()
  const t0 = performance.now()
  const child = spawn(subject.argv[0], subject.argv.slice(1), {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: os.tmpdir(),
      MYNTRIX_DATA_DIR: dataDir,
      MYNTRIX_PORT: String(port),
      MYNTRIX_ADMIN_PASSWORD: 'bench-password-1',
      MYNTRIX_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  })
  let readyMs = null
  while (readyMs === null) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`)
      .then((r) => r.status === 200)
      .catch(() => false)
    if (ok) readyMs = performance.now() - t0
    else await new Promise((r) => setTimeout(r, 10))
  }
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000))
  const server = rssKb(serverPid(child.pid))
  const all = tree(child.pid).reduce((sum, pid) => sum + rssKb(pid), 0)
  child.kill('SIGTERM')
  await new Promise((r) => child.on('exit', r))
  fs.rmSync(dataDir, { recursive: true, force: true })
  return { readyMs, serverMb: server / 1024, treeMb: all / 1024 }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

if (!fs.existsSync(path.join(root, 'dist/main.js'))) {
  console.error('no dist/main.js: run `npm run build` first')
  process.exit(1)
}
const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
console.log(`${RUNS} runs each, alternating; RSS after ${IDLE_SECONDS} s idle; medians (min-max)`)
console.log(`load average at start: ${load()} (${os.cpus().length} cores)`)
const results = new Map(subjects.map((s) => [s.name, []]))
for (let i = 0; i < RUNS; i++) {
  for (const s of subjects) results.get(s.name).push(await once(s))
}
console.log(`load average at end: ${load()}`)
console.log('| how it runs | spawn to /healthz 200 ms | server RSS MiB | process tree RSS MiB |')
console.log('| --- | ---: | ---: | ---: |')
for (const s of subjects) {
  const r = results.get(s.name)
  const cell = (k, d) => {
    const xs = r.map((x) => x[k])
    return `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})`
  }
  console.log(`| ${s.name} | ${cell('readyMs', 0)} | ${cell('serverMb', 1)} | ${cell('treeMb', 1)} |`)
}
