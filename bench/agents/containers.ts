// Container agents benchmark, against the Docker engine itself in the same run:
//   npm run build && npx tsx bench/agents/containers.ts
// 1. BENCH_CONTAINERS (20) container agents started through Myntrix's API (all concurrent
//    POST .../start, each answering once its container runs) against the floor: the same
//    containers created and started straight through the Engine API (dockerode), also
//    concurrently. 2. A container's process killed (SIGKILL through the engine) to its agent
//    running again in a new container, median of BENCH_CRASHES (5). 3. CPU and RSS of the
//    server with the agents idle over BENCH_IDLE_S (30) s, and dockerd's CPU beside it (the
//    stats the server asks for every 2 s are work for the engine too).
// The server is dist/main.js (what `npm start` runs), on 127.0.0.1, a temporary data dir and
// its own MYNTRIX_NODE_NAME; every container it or the floor made is removed at the end.
// Prints a Markdown table; raw numbers go to results-containers-<time>.json.

import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { docker, removeNodeContainers, testImage, whyNoDocker } from '../../test/helpers/docker.js'
import { startMyntrix } from './myntrix-server.mjs'

const here = import.meta.dirname
const root = path.resolve(here, '../..')
const N = Number(process.env.BENCH_CONTAINERS ?? 20)
const CRASHES = Math.min(N, Number(process.env.BENCH_CRASHES ?? 5))
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30)
const TICKS = 100 // USER_HZ
const NODE = `bench-${process.pid}-${Date.now().toString(36)}`
const FLOOR_NODE = `${NODE}-floor`
const IDLE_COMMAND = ['sh', '-c', 'echo up; while true; do sleep 1; done']

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function procTicks(pid: number): { ticks: number; rssBytes: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0)
  return { ticks: Number(f[11]) + Number(f[12]), rssBytes: rssKb * 1024 }
}

/** CPU (% of one core) and RSS of each pid over the same `seconds`, after a 2 s settle. */
async function idleCost(pids: number[], seconds: number) {
  await sleep(2000)
  const a = pids.map(procTicks)
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const b = pids.map(procTicks)
  const wallS = (performance.now() - t0) / 1000
  return pids.map((_, i) => ({
    cpuPercent: ((b[i].ticks - a[i].ticks) / TICKS / wallS) * 100,
    rssMb: b[i].rssBytes / 1024 / 1024,
  }))
}

/** The floor: the same containers (image, command, labels, limits) straight through the engine. */
async function floor(image: string): Promise<number> {
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const c = await docker.createContainer({
        name: `${FLOOR_NODE}-${i}`,
        Image: image,
        Cmd: IDLE_COMMAND,
        User: '65534:65534',
        Labels: { 'myntrix.node': FLOOR_NODE },
        HostConfig: { Init: true, NetworkMode: 'none', RestartPolicy: { Name: 'no' } },
      })
      await c.start()
    }),
  )
  const ms = performance.now() - t0
  await removeNodeContainers(FLOOR_NODE)
  return ms
}

async function benchMyntrix(image: string) {
  const main = path.join(root, 'dist/main.js')
  if (!fs.existsSync(main)) throw new Error('dist/main.js is missing: npm run build first')
  type AgentView = { id: string; status: string; containerId: string | null }
  const server = await startMyntrix(main, { cwd: root, env: { MYNTRIX_NODE_NAME: NODE } })
  const api = server.api as (method: string, url: string, body?: unknown) => Promise<AgentView>
  const ids: string[] = []
  for (let i = 0; i < N; i++) {
    const a = await api('POST', '/api/myntrix/agents', {
      name: `box-${i}`,
      configuration: {
        runtime: { type: 'docker', image, command: IDLE_COMMAND },
        restartPolicy: 'always',
        maxRestarts: 1000,
        stopTimeoutMs: 2000,
      },
    })
    ids.push(a.id)
  }
  const t0 = performance.now()
  const started = await Promise.all(ids.map((id) => api('POST', `/api/myntrix/agents/${id}/start`)))
  const allRunningMs = performance.now() - t0
  if (!started.every((a) => a.status === 'running')) throw new Error('not all running')

  const crashes: number[] = []
  for (const id of ids.slice(0, CRASHES)) {
    const before = (await api('GET', `/api/myntrix/agents/${id}`)).containerId as string
    const k0 = performance.now()
    await docker.getContainer(before).kill({ signal: 'SIGKILL' })
    for (;;) {
      const now = await api('GET', `/api/myntrix/agents/${id}`)
      if (now.status === 'running' && now.containerId && now.containerId !== before) break
      await sleep(20)
    }
    crashes.push(performance.now() - k0)
    await sleep(200)
  }

  const dockerd = Number(execFileSync('pidof', ['dockerd']).toString().trim().split(' ')[0])
  const [serverIdle, dockerdIdle] = await idleCost([server.pid, dockerd], IDLE_S)
  await server.stop()
  return {
    allRunningMs,
    crashMedianMs: median(crashes),
    crashes,
    serverCpuPercent: serverIdle.cpuPercent,
    serverRssMb: serverIdle.rssMb,
    dockerdCpuPercent: dockerdIdle.cpuPercent,
  }
}

const why = await whyNoDocker()
if (why) throw new Error(`no Docker engine: ${why}`)
const image = await testImage()
const engine = await docker.version()
try {
  const floorMs = await floor(image)
  const myntrix = await benchMyntrix(image)
  // The floor again after the server's run, so load that changes during the run shows.
  const floorAfterMs = await floor(image)
  const f = (v: number, d = 0) => v.toFixed(d)
  console.log(
    `\nnode ${process.version}, Docker Engine ${engine.Version}, ${os.cpus().length} CPUs, ${new Date().toISOString()}\n`,
  )
  console.log('| measure | Myntrix (API) | Engine API directly (floor) |')
  console.log('| --- | --- | --- |')
  console.log(
    `| ${N} container agents: start calls to all running | ${f(myntrix.allRunningMs)} ms | ${f(floorMs)} ms / ${f(floorAfterMs)} ms (before / after) |`,
  )
  console.log(
    `| container killed (SIGKILL) to running again in a new container, median of ${CRASHES} | ${f(myntrix.crashMedianMs)} ms | - |`,
  )
  console.log(
    `| server CPU, ${N} idle container agents, ${IDLE_S} s | ${f(myntrix.serverCpuPercent, 2)} % (dockerd beside it: ${f(myntrix.dockerdCpuPercent, 2)} %) | - |`,
  )
  console.log(`| server RSS, ${N} idle container agents | ${f(myntrix.serverRssMb, 1)} MB | - |`)
  fs.writeFileSync(
    path.join(here, `results-containers-${Date.now()}.json`),
    JSON.stringify(
      { node: process.version, engine: engine.Version, n: N, floorMs, floorAfterMs, myntrix },
      null,
      2,
    ),
  )
} finally {
  await removeNodeContainers(NODE)
  await removeNodeContainers(FLOOR_NODE)
}
process.exit(0)
