// The Myntrix engine on a SQLite file: N tasks, each a no-op action (the
// benchmark measures the scheduler, not the work), with the real jobs ledger
// as in the server: every firing writes its run row and its job, start and
// end. Lateness is from the due time to the action's start (docs/SCHEDULER.md).
// Usage: myntrix.mjs <tasks> <schedule> <seconds> [seed | seeded]
// `seed` writes the tasks to BENCH_DATABASE_URL and exits; `seeded` starts on
// that database without adding any (a restart with the tasks already stored).
// Without either, the tasks are added in this process on a new SQLite file.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Type } from '@sinclair/typebox'
import { AuthRepository } from '../../../src/auth/repository.js'
import { newId } from '../../../src/db/ids.js'
import { migrate, openDatabase } from '../../../src/db/index.js'
import { EventBus } from '../../../src/events/bus.js'
import { silentLogger } from '../../../src/logger.js'
import { JobsService } from '../../../src/modules/jobs/service.js'
import {
  ACTION_TYPES,
  type Action,
  createActionRegistry,
} from '../../../src/modules/scheduler/actions/index.js'
import { nextAfter } from '../../../src/modules/scheduler/cron.js'
import { SchedulerEngine } from '../../../src/modules/scheduler/engine.js'
import { SchedulerRepository } from '../../../src/modules/scheduler/repository.js'
import { InstanceRegistry, processLiveness } from '../../../src/process/liveness.js'

const usage = (): never => {
  console.error('usage: myntrix.mjs <tasks> <schedule> <seconds> [seed | seeded]')
  process.exit(2)
}
const [tasks, schedule, seconds] = [
  Number(process.argv[2]),
  process.argv[3] ?? usage(),
  Number(process.argv[4]),
]
const mode = process.argv[5] ?? 'fresh'
if (!['fresh', 'seed', 'seeded'].includes(mode)) throw new Error(`unknown mode ${mode} (seed | seeded)`)
if (mode !== 'fresh' && !process.env.BENCH_DATABASE_URL) throw new Error(`${mode} needs BENCH_DATABASE_URL`)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-bench-sched-'))
const url = process.env.BENCH_DATABASE_URL ?? `sqlite://${path.join(dir, 'bench.db')}`
const handle = openDatabase(url)
await migrate(handle)
const repo = new SchedulerRepository(handle.db, handle.engine)
if (mode !== 'seeded') await seed()
if (mode === 'seed') {
  await handle.close()
  fs.rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
const noop: Action = {
  type: 'api',
  payloadSchema: Type.Object({}),
  validate: (p) => ({ ok: true, value: p }),
  requiredRole: () => null,
  run: async () => ({ ok: true }),
}
const registry = createActionRegistry(Object.fromEntries(ACTION_TYPES.map((t) => [t, noop])) as never)
const lateness: number[] = []
const bus = new EventBus()
const instanceId = newId()
// As the server wires them (src/app.ts): one heartbeat shared by the jobs ledger and the engine.
const liveness = processLiveness(new InstanceRegistry(handle.db, handle.engine), instanceId, 5000)
const jobs = new JobsService({ db: handle.db, engine: handle.engine, bus, instanceId, liveness })
const engine = new SchedulerEngine({
  liveness,
  watchChanges: handle.watchChanges,
  repo,
  registry,
  bus,
  jobs,
  instanceId,
  logger: silentLogger,
  onFire: (info) => {
    if (info.dueAt) {
      const late = nowMs() - info.dueAt.getTime()
      lateness.push(late)
      if (process.env.BENCH_DEBUG && late > 20)
        process.stderr.write(`late ${late.toFixed(1)} ms at ${info.dueAt.toISOString()}\n`)
    }
  },
})
await engine.start()
// Setup garbage (10,000 inserts) is collected before the window, as V8's
// memory reducer would some seconds into it (run.mjs passes --expose-gc).
;(globalThis as { gc?: () => void }).gc?.()
process.stdout.write('ready\n')
await new Promise((r) => setTimeout(r, seconds * 1000))
// Where the RSS goes (MB), read before shutdown frees anything.
const memory = Object.fromEntries(
  Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round((v / 1048576) * 10) / 10]),
)
await engine.stop()
await jobs.stop()
await liveness.stop()
await handle.close()
fs.rmSync(dir, { recursive: true, force: true })
process.stdout.write(`${JSON.stringify({ lateness: stats(lateness), memory })}\n`)

function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b)
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null)
  return { count: s.length, p50: q(0.5), p99: q(0.99), max: s.length ? s[s.length - 1] : null }
}

/** Wall-clock time with sub-millisecond resolution. */
function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

/** The tasks (every one enabled, a no-op action) and their owner. */
async function seed() {
  const owner = newId()
  const now = new Date()
  await new AuthRepository(handle.db).insertUser({
    id: owner,
    username: `bench-${owner}`,
    passwordHash: 'x',
    role: 'admin',
    disabled: false,
    createdAt: now,
    updatedAt: now,
  })
  for (let i = 0; i < tasks; i++) {
    await repo.insertTask({
      id: newId(),
      name: `t${i}`,
      description: null,
      schedule,
      timezone: 'UTC',
      action: 'api',
      payload: {},
      enabled: true,
      overlapPolicy: 'allow',
      timeoutMs: null,
      maxRetries: 0,
      retryDelayMs: 0,
      misfireGraceMs: 60_000,
      nextRunAt: nextAfter(schedule, 'UTC', now),
      ownerId: owner,
      createdAt: now,
      updatedAt: now,
    })
  }
}
