// Scheduler benchmark (issue 8): firing lateness p50/p99/max for 100 tasks
// every second, and CPU % / RSS with 10,000 enabled tasks, for the Myntrix
// engine (SQLite), APScheduler 3.9 (memory job store, and a SQLAlchemyJobStore
// on a SQLite file: the like-for-like persistent peer) and bare croner timers.
// A subject whose Debian package is missing is skipped with a message. Each subject runs
// alone in its own process. In the 10,000-task scenario the persistent subjects
// (Myntrix, APScheduler's SQLAlchemy store) start on a database a first
// process filled, as after a restart; the memory store can only add its jobs
// in the process. CPU is the on-CPU time of all the subject's threads
// (/proc/<pid>/task/*/schedstat, nanoseconds) over the measured window, RSS is
// VmRSS at its end and "private" its RssAnon part; wake-ups are the threads'
// voluntary context switches in the window (/proc/<pid>/task/*/status).
// The idle window opens BENCH_SETTLE_SECONDS after the subject is ready: V8's
// memory reducer runs its last collections of the start-up about 9 s in, once.
// Usage: node bench/scheduler/run.mjs [--build-only]
//   (BENCH_LATENESS_SECONDS=60, BENCH_IDLE_SECONDS=30, BENCH_SETTLE_SECONDS=15; 0 seconds skips a scenario)
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundleSubject } from '../bundle.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const latenessSeconds = Number(process.env.BENCH_LATENESS_SECONDS ?? 60)
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 30)
const settleSeconds = Number(process.env.BENCH_SETTLE_SECONDS ?? 15)

await bundleSubject(join(here, 'subjects/myntrix.ts'), join(here, '.build/myntrix.mjs'), [
  'better-sqlite3',
  'pg',
  'pg-native',
])
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
    // A stored database for the `seed` / `seeded` modes.
    storedAt: (dir) => ({ BENCH_DATABASE_URL: `sqlite://${join(dir, 'bench.db')}` }),
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
    storedAt: (dir) => ({ BENCH_SQLITE_PATH: join(dir, 'jobs.db') }),
    missing: apschedulerMissing ?? missingPython('sqlalchemy', 'python3-sqlalchemy'),
  },
  {
    name: 'bare croner 9 timers',
    cmd: process.execPath,
    args: ['--expose-gc', join(here, 'subjects/croner.mjs')],
  },
  {
    // Not a scheduler: the floor of the stack, for reading the RSS row.
    name: 'floor: node + better-sqlite3, no scheduler',
    cmd: process.execPath,
    args: ['--expose-gc', join(here, 'subjects/node-floor.mjs')],
    idleOnly: true,
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
    // Hourly, half an hour from now: the window never meets the firing minute.
    schedule: `${(new Date().getUTCMinutes() + 30) % 60} * * * *`,
    seconds: idleSeconds,
    settle: settleSeconds,
    stored: true,
  },
].filter((scenario) => scenario.seconds > 0)

/**
 * Nanoseconds on CPU, summed over the process's threads. /proc/<pid>/stat's
 * utime+stime count whole clock ticks (10 ms): an idle window of 30 s reads 0
 * or 0.03 % by the luck of one tick. A thread that ends inside the window
 * takes its time with it; the subjects keep theirs (thread pools, V8 workers).
 */
function cpuNs(pid) {
  let total = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total
}
/**
 * Times the process's threads went off the CPU voluntarily (waiting for a
 * timer, a socket, a lock) over the window: each is a wake-up that followed.
 * A thread that sleeps through the window adds none.
 */
function wakeUps(pid) {
  let total = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(
        readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'),
      )
      if (m) total += Number(m[1])
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total
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
  const args = (mode) => [
    ...subject.args,
    String(scenario.tasks),
    scenario.schedule,
    // The subject's lifetime from ready: the settling and the window.
    String(scenario.seconds + (scenario.settle ?? 0)),
    ...(subject.extra ?? []),
    ...(mode ? [mode] : []),
  ]
  const stored = scenario.stored && subject.storedAt ? mkdtempSync(join(tmpdir(), 'bench-sched-')) : null
  try {
    let env = process.env
    if (stored) {
      env = { ...process.env, ...subject.storedAt(stored) }
      const seeded = spawnSync(subject.cmd, args('seed'), { env, stdio: ['ignore', 'ignore', 'inherit'] })
      if (seeded.status !== 0) throw new Error(`${subject.name} could not store its tasks (${seeded.status})`)
    }
    return await measureProcess(
      subject,
      scenario,
      spawn(subject.cmd, args(stored ? 'seeded' : null), {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    )
  } finally {
    if (stored) rmSync(stored, { recursive: true, force: true })
  }
}

async function measureProcess(subject, scenario, child) {
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
  if (scenario.settle) await new Promise((r) => setTimeout(r, scenario.settle * 1000))
  const t0 = performance.now()
  const c0 = cpuNs(child.pid)
  const w0 = wakeUps(child.pid)
  // Stop sampling just before the subject ends its window.
  await new Promise((r) => setTimeout(r, scenario.seconds * 1000 - 300))
  const c1 = cpuNs(child.pid)
  const w1 = wakeUps(child.pid)
  const memory = memoryMb(child.pid)
  const elapsed = (performance.now() - t0) / 1000
  await exited
  const line = out.trim().split('\n').pop()
  const result = JSON.parse(line)
  return { cpuPercent: ((c1 - c0) / 1e9 / elapsed) * 100, wakeUps: w1 - w0, ...memory, ...result }
}

const results = []
for (const scenario of scenarios) {
  for (const subject of subjects) {
    if (subject.missing || (subject.idleOnly && !scenario.settle)) continue
    process.stderr.write(`running ${subject.name}: ${scenario.name}\n`)
    const result = await measure(subject, scenario)
    if (scenario.settle && result.lateness.count > 0)
      process.stderr.write(
        `warning: ${subject.name} fired ${result.lateness.count} times in the idle scenario\n`,
      )
    results.push({ scenario: scenario.name, subject: subject.name, ...result })
  }
}

const f = (v, d = 1) => (v === null || v === undefined ? '-' : Number(v).toFixed(d))
console.log(
  '| scenario | subject | firings | lateness p50 ms | p99 ms | max ms | CPU % | wake-ups | RSS MB | private MB |',
)
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of results) {
  console.log(
    `| ${r.scenario} | ${r.subject} | ${r.lateness.count} | ${f(r.lateness.p50, 2)} | ${f(r.lateness.p99, 2)} | ${f(r.lateness.max, 2)} | ${f(r.cpuPercent, 3)} | ${r.wakeUps} | ${f(r.rssMb)} | ${f(r.privateMb)} |`,
  )
}
const file = join(here, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
const skipped = subjects.filter((s) => s.missing).map((s) => ({ subject: s.name, reason: s.missing }))
writeFileSync(file, JSON.stringify({ node: process.version, results, skipped }, null, 2))
console.error(`results written to ${file}`)
