// bench/visualization: how long the scene payload takes for 1,000 agents and
// 1,000 devices, and how many bytes per second the live stream sends while
// 100 devices report telemetry at 10 Hz. Baselines in the same process: a bare
// SELECT + JSON.stringify of the same rows (the floor for building a payload),
// and a naive stream that sends the whole scene on every event.
//
// Run: npx tsx bench/visualization/run.ts   (MYNTRIX_BENCH_SECONDS=10 by default)

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildApp } from '../../src/app.js'
import type { Principal } from '../../src/auth/principal.js'
import { loadConfig } from '../../src/config/index.js'
import { newId } from '../../src/db/ids.js'
import { openDatabase } from '../../src/db/index.js'
import { toDbTime } from '../../src/db/values.js'

const AGENTS = 1000
const DEVICES = 1000
const STREAMING_DEVICES = 100
const HZ = 10
const SECONDS = Number(process.env.MYNTRIX_BENCH_SECONDS ?? 10)

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

/** The n-th item of a list repeated forever. */
function cycle(list: readonly string[], n: number): string {
  return list[n % list.length] ?? ''
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-bench-viz-'))
  const config = loadConfig({
    MYNTRIX_DATA_DIR: dataDir,
    MYNTRIX_ADMIN_PASSWORD: 'bench-password',
    MYNTRIX_LOG_LEVEL: 'silent',
  })
  const database = openDatabase(config.databaseUrl)
  const app = await buildApp({ config, database, logger: false })
  const { context, areas } = app.myntrix
  const viz = areas.find((a) => a.name === 'visualization') as unknown as {
    service: import('../../src/modules/visualization/service.js').VisualizationService
  }
  const admin = await app.myntrix.auth.repo.findUserByName('admin')
  const principal: Principal = { id: admin!.id, username: 'admin', role: 'admin', via: 'token' }

  const now = toDbTime(new Date())
  const agentTypes = ['llm', 'vision', 'planner', 'crawler', 'router', 'monitor']
  const deviceTypes = ['printer', 'cnc', 'esp32', 'arduino']
  const deviceIds: string[] = []
  for (let i = 0; i < AGENTS; i += 100) {
    await database.db
      .insertInto('agents')
      .values(
        Array.from({ length: 100 }, (_, k) => ({
          id: newId(),
          name: `agent-${i + k}`,
          type: cycle(agentTypes, i + k),
          status: (i + k) % 3 === 0 ? 'running' : 'stopped',
          desiredState: 'stopped',
          health: 90,
          configuration: JSON.stringify({ model: 'x', temperature: 0.2 }),
          ownerId: admin!.id,
          restarts: 0,
          createdAt: now,
          updatedAt: now,
        })),
      )
      .execute()
  }
  for (let i = 0; i < DEVICES; i += 100) {
    const rows = Array.from({ length: 100 }, (_, k) => ({
      id: newId(),
      name: `device-${i + k}`,
      type: cycle(deviceTypes, i + k),
      connectionString: 'sim://marlin',
      status: 'connected',
      configuration: '{}',
      ownerId: admin!.id,
      desiredConnected: 0,
      createdAt: now,
      updatedAt: now,
    }))
    deviceIds.push(...rows.map((r) => r.id))
    await database.db.insertInto('devices').values(rows).execute()
  }

  // ---- payload build time ----
  await viz.service.snapshot(principal) // first call assigns and stores the layout
  const REPS = 50
  const build: number[] = []
  const baseline: number[] = []
  let payloadBytes = 0
  for (let r = 0; r < REPS; r++) {
    let t0 = performance.now()
    const agents = await database.db.selectFrom('agents').selectAll().execute()
    const devices = await database.db.selectFrom('devices').selectAll().execute()
    JSON.stringify({ agents, devices })
    baseline.push(performance.now() - t0)
    t0 = performance.now()
    const scene = await viz.service.snapshot(principal)
    payloadBytes = JSON.stringify(scene).length
    build.push(performance.now() - t0)
  }
  build.sort((a, b) => a - b)
  baseline.sort((a, b) => a - b)

  // ---- stream bytes per second ----
  let streamBytes = 0
  let streamMessages = 0
  const unsubscribe = viz.service.subscribe(principal, {
    send(message) {
      streamBytes += JSON.stringify({ type: message.type, ts: '', payload: message.payload }).length
      streamMessages++
      return true
    },
  })
  await new Promise((r) => setTimeout(r, 300))
  streamBytes = 0
  streamMessages = 0
  let events = 0
  const streaming = deviceIds.slice(0, STREAMING_DEVICES)
  const timer = setInterval(() => {
    for (const deviceId of streaming) {
      context.bus.emit('device.telemetry', {
        deviceId,
        ownerId: admin!.id,
        ts: new Date().toISOString(),
        readings: {
          temperature: 200 + Math.random() * 10,
          targetTemperature: 210,
          positionX: Math.random() * 100,
        },
      })
      events++
    }
  }, 1000 / HZ)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  clearInterval(timer)
  const elapsedS = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  unsubscribe()

  const naiveBytesPerSec = (events / elapsedS) * payloadBytes
  const rows: [string, string][] = [
    // percentile 50 of REPS samples is the sample at REPS / 2.
    ['payload build, 1,000 agents + 1,000 devices (p50)', `${percentile(build, 50).toFixed(2)} ms`],
    ['payload build (p95)', `${percentile(build, 95).toFixed(2)} ms`],
    [
      'baseline: SELECT * + JSON.stringify of the same rows (p50)',
      `${percentile(baseline, 50).toFixed(2)} ms`,
    ],
    ['payload build / baseline (p50)', `${(percentile(build, 50) / percentile(baseline, 50)).toFixed(2)}x`],
    ['payload size', `${(payloadBytes / 1024).toFixed(0)} KiB`],
    [
      `stream: ${STREAMING_DEVICES} devices x ${HZ} Hz telemetry events/s`,
      `${(events / elapsedS).toFixed(0)}`,
    ],
    ['stream: messages/s to one subscriber', `${(streamMessages / elapsedS).toFixed(1)}`],
    ['stream: bytes/s to one subscriber', `${(streamBytes / elapsedS / 1024).toFixed(1)} KiB/s`],
    ['naive (full scene per event): bytes/s', `${(naiveBytesPerSec / 1024 / 1024).toFixed(1)} MiB/s`],
    ['stream bytes / naive bytes', `${((streamBytes / elapsedS / naiveBytesPerSec) * 100).toFixed(3)} %`],
    [
      'server CPU while streaming (% of one core)',
      `${(((cpu.user + cpu.system) / 1e6 / elapsedS) * 100).toFixed(1)} %`,
    ],
  ]
  const width = Math.max(...rows.map((r) => r[0].length))
  console.log(`| ${'measure'.padEnd(width)} | value |`)
  console.log(`| ${'-'.repeat(width)} | --- |`)
  for (const [k, v] of rows) console.log(`| ${k.padEnd(width)} | ${v} |`)

  await app.close()
  await database.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
