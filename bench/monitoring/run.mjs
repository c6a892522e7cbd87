// Runs the Myntrix host sampler, systeminformation and Glances side by side at
// 1 Hz, each in its own process, and measures each process's CPU time
// (utime + stime + reaped children, from /proc/<pid>/stat) and RSS over the
// same window. Usage: npm install && node run.mjs   (BENCH_SECONDS=60 default)
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundleSubject } from '../bundle.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const seconds = Number(process.env.BENCH_SECONDS ?? 60)
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 5)
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100)
const glances = '/usr/bin/glances'
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

await bundleSubject(join(here, 'subjects/myntrix.ts'), join(here, '.build/myntrix.mjs'))

const GLANCES_PLUGINS = 'cpu,percpu,load,mem,memswap,fs,network'
const subjects = [
  { name: 'myntrix sampler (/proc)', cmd: process.execPath, args: [join(here, '.build/myntrix.mjs')] },
  {
    name: 'systeminformation 5',
    cmd: process.execPath,
    args: [join(here, 'subjects/systeminformation.mjs')],
  },
]
if (existsSync(glances)) {
  const common = ['-t', '1', '--disable-webui', '--disable-history']
  subjects.push({
    name: 'Glances 3.3 (same plugins)',
    cmd: glances,
    args: [
      ...common,
      '--disable-plugin',
      'all',
      '--enable-plugin',
      GLANCES_PLUGINS,
      '--disable-process',
      '--stdout-csv',
      'cpu.total,percpu,load,mem.percent,memswap.percent,fs,network',
    ],
  })
  subjects.push({
    name: 'Glances 3.3 (defaults)',
    cmd: glances,
    args: [...common, '--stdout-csv', 'cpu.total,percpu,load,mem.percent,memswap.percent,fs,network'],
  })
} else {
  console.warn(`${glances} not found (apt-get install -y glances): Glances rows skipped`)
}

function cpuTicks(pid) {
  // Fields after the ")" of the command name: utime is field 14, cstime 17 (1-based).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
}

function rssKb(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : 0
}

const running = subjects.map((s) => {
  const child = spawn(s.cmd, s.args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] })
  const run = { ...s, child, lines: 0, stderr: '', rss: [] }
  child.stdout.on('data', (chunk) => {
    for (const byte of chunk) if (byte === 10) run.lines++
  })
  child.stderr.on('data', (chunk) => {
    run.stderr += chunk
  })
  return run
})

const stopAll = () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGTERM')
}
process.on('SIGINT', () => {
  stopAll()
  process.exit(130)
})

try {
  console.log(`warming up ${warmupSeconds} s, then measuring ${seconds} s at 1 Hz ...`)
  await sleep(warmupSeconds * 1000)
  for (const r of running) {
    if (r.child.exitCode !== null) throw new Error(`${r.name} exited early: ${r.stderr}`)
    r.ticks0 = cpuTicks(r.child.pid)
    r.lines0 = r.lines
  }
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < seconds; i++) {
    await sleep(1000)
    for (const r of running) r.rss.push(rssKb(r.child.pid))
  }
  const elapsedSec = Number(process.hrtime.bigint() - t0) / 1e9
  for (const r of running) {
    r.cpuPercent = ((cpuTicks(r.child.pid) - r.ticks0) / clockTicks / elapsedSec) * 100
    r.samples = r.lines - r.lines0
  }

  const rows = running.map((r) => ({
    subject: r.name,
    samples: r.samples,
    cpuPercentOfOneCore: Number(r.cpuPercent.toFixed(2)),
    rssMiBAvg: Number((r.rss.reduce((a, b) => a + b, 0) / r.rss.length / 1024).toFixed(1)),
    rssMiBMax: Number((Math.max(...r.rss) / 1024).toFixed(1)),
  }))
  console.log(
    `\n${seconds} s at 1 Hz, ${process.env.BENCH_LABEL ?? ''} node ${process.version}, ${clockTicks} ticks/s`,
  )
  console.log('| subject | samples | CPU % of one core | RSS avg MiB | RSS max MiB |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const row of rows) {
    console.log(
      `| ${row.subject} | ${row.samples} | ${row.cpuPercentOfOneCore.toFixed(2)} | ${row.rssMiBAvg} | ${row.rssMiBMax} |`,
    )
  }
  writeFileSync(
    join(here, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    JSON.stringify(rows, null, 2),
  )
} finally {
  stopAll()
}
