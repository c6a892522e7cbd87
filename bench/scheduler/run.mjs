// Scheduler benchmark (issue 8): firing lateness p50/p99/max for 100 tasks
// every second, and CPU % / RSS with 10,000 enabled tasks, for the Myntrix
// engine (SQLite), APScheduler 3.9 (memory job store, and a SQLAlchemyJobStore
// on a SQLite file: the like-for-like persistent peer) and bare croner timers.
// A subject whose Debian package is missing is skipped with a message. Each subject runs
// alone in its own process; CPU is utime+stime from /proc/<pid>/stat over the
// measured window, RSS is VmRSS at its end and "private" its RssAnon part.
// Usage: node bench/scheduler/run.mjs [--build-only]   (BENCH_LATENESS_SECONDS=60, BENCH_IDLE_SECONDS=30)
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))
const latenessSeconds = Number(process.env.BENCH_LATENESS_SECONDS ?? 60)
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 30)
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100)

// Bundled to plain JS so no TypeScript loader inflates RSS or CPU.
await build({
  entryPoints: [join(here, 'subjects/myntrix.ts')],
  outfile: join(here, '.build/myntrix.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'pg', 'pg-native'],
})
// `--build-only`: just bundle the Myntrix subject (to profile it by hand, e.g.
// node --cpu-prof bench/scheduler/.build/myntrix.mjs 100 '* * * * * *' 20).
if (process.argv.includes('--build-only')) process.exit(0)

/** Debian python packages are only seen by /usr/bin/python3; null when the module imports. */
function missingPython(module, debianPackage) {
  const r = spawnSync('/usr/bin/python3', ['-c', `import ${module}`])
  return r.status === 0 ? null : `python module ${module} not found (apt-get install -y ${debianPackage})`
}
const apschedulerMissing = missingPython('apscheduler', 'python3-apscheduler')
const apscheduler = join(here, 'subjects/apscheduler_subject.py')
const subjects = [
  {
    name: 'Myntrix engine + jobs ledger (SQLite)',
    cmd: process.execPath,
    args: ['--expose-gc', join(here, '.build/myntrix.mjs')],
  },
  {
    name: 'APScheduler 3.9, memory store',
    cmd: '/usr/bin/python3',
    args: [apscheduler],
    extra: ['memory'],
    missing: apschedulerMissing,
  },
  {
    name: 'APScheduler 3.9, SQLAlchemy store (SQLite file)',
    cmd: '/usr/bin/python3',
    args: [apscheduler],
    extra: ['sqlite'],
    missing: apschedulerMissing ?? missingPython('sqlalchemy', 'python3-sqlalchemy'),
  },
  {
    name: 'bare croner 9 timers',
    cmd: process.execPath,
    args: ['--expose-gc', join(here, 'subjects/croner.mjs')],
  },
]
for (const s of subjects) if (s.missing) process.stderr.write(`skipping ${s.name}: ${s.missing}\n`)
const scenarios = [
  {
    name: `100 tasks every second, ${latenessSeconds} s`,
    tasks: 100,
    schedule: '* * * * * *',
    seconds: latenessSeconds,
  },
  {
    name: `10,000 tasks hourly (idle), ${idleSeconds} s`,
    tasks: 10_000,
    schedule: '0 * * * *',
    seconds: idleSeconds,
  },
]

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}
/** VmRSS, and RssAnon: the private part (heap, stacks), without file-backed pages such as the runtime's own executable. */
function memoryMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field) => {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)
    return m ? Number(m[1]) / 1024 : null
  }
  return { rssMb: kb('VmRSS'), privateMb: kb('RssAnon') }
}

async function measure(subject, scenario) {
  const child = spawn(
    subject.cmd,
    [
      ...subject.args,
      String(scenario.tasks),
      scenario.schedule,
      String(scenario.seconds),
      ...(subject.extra ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let out = ''
  let onReady
  const ready = new Promise((r) => {
    onReady = r
  })
  child.stdout.setEncoding('utf8').on('data', (s) => {
    out += s
    if (out.includes('ready\n')) onReady()
  })
  const exited = new Promise((r) => child.once('exit', r))
  await Promise.race([
    ready,
    exited.then((code) => {
      throw new Error(`${subject.name} exited (${code}) before it was ready`)
    }),
  ])
  const t0 = performance.now()
  const c0 = cpuTicks(child.pid)
  // Stop sampling just before the subject ends its window.
  await new Promise((r) => setTimeout(r, scenario.seconds * 1000 - 300))
  const c1 = cpuTicks(child.pid)
  const memory = memoryMb(child.pid)
  const elapsed = (performance.now() - t0) / 1000
  await exited
  const line = out.trim().split('\n').pop()
  const result = JSON.parse(line)
  return { cpuPercent: ((c1 - c0) / clockTicks / elapsed) * 100, ...memory, ...result }
}

const results = []
for (const scenario of scenarios) {
  for (const subject of subjects) {
    if (subject.missing) continue
    process.stderr.write(`running ${subject.name}: ${scenario.name}\n`)
    results.push({ scenario: scenario.name, subject: subject.name, ...(await measure(subject, scenario)) })
  }
}

const f = (v, d = 1) => (v === null || v === undefined ? '-' : Number(v).toFixed(d))
console.log(
  '| scenario | subject | firings | lateness p50 ms | p99 ms | max ms | CPU % | RSS MB | private MB |',
)
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of results) {
  console.log(
    `| ${r.scenario} | ${r.subject} | ${r.lateness.count} | ${f(r.lateness.p50, 2)} | ${f(r.lateness.p99, 2)} | ${f(r.lateness.max, 2)} | ${f(r.cpuPercent, 2)} | ${f(r.rssMb)} | ${f(r.privateMb)} |`,
  )
}
const file = join(here, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
const skipped = subjects.filter((s) => s.missing).map((s) => ({ subject: s.name, reason: s.missing }))
writeFileSync(file, JSON.stringify({ node: process.version, results, skipped }, null, 2))
console.error(`results written to ${file}`)
