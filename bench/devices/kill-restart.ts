// A transfer whose server is killed: the real server (src/main.ts, SQLite in a
// temporary data directory) streams a Marlin file over a socat pty to the
// bench's emulator with the 115200-baud wire modelled; a third of the way in
// the server gets SIGKILL, a new one starts on the same data, and the operator
// restarts the interrupted job (`POST /jobs/{id}/restart {confirm: true}`,
// retried until the reopened device takes it). Reports, from the kill:
// server answering, restart accepted, first preamble line and first file line
// at the emulator; and, from the emulator's record of every move executed
// (each move of the file has its own E), the file's moves never executed
// (lost) and executed more than once (repeated).
// --checkpoint-lines and --checkpoint-ms set MYNTRIX_TRANSFER_CHECKPOINT_LINES
// and _MS (default: the server's, every line, at most every 20 ms).
//   npx tsx bench/devices/kill-restart.ts [--reps 3] [--lines 2000] [--checkpoint-lines N] [--checkpoint-ms N]

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { makePtyDir, removePtyDir, startPtyPair } from '../../test/helpers/pty.js'
import { spawnWireEmulator } from './emulator-process.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const reps = arg('--reps', 3)
const lineCount = arg('--lines', 2000)
const checkpointLines = arg('--checkpoint-lines', 0)
const checkpointMs = arg('--checkpoint-ms', -1)
const password = 'bench-password-1'
const E_STEP = 0.03125

function gcodeFile(n: number): string {
  let text = '; bench file\nG21\nG90\nM82\n'
  for (let i = 0; i < n; i++) {
    const x = 100 + 40 * Math.cos(i / 20)
    const y = 100 + 40 * Math.sin(i / 20)
    text += `G1 X${x.toFixed(3)} Y${y.toFixed(3)} E${(E_STEP * (i + 1)).toFixed(5)} ; move ${i}\n`
  }
  return text
}

/** The move index of an executed line: its E names it; null for a move of the preamble. */
function moveOf(line: string): number | null {
  const e = /E(-?[\d.]+)/.exec(line)
  if (!e || !/X/.test(line)) return null
  return Math.round(Number(e[1]) / E_STEP) - 1
}

const freePort = () =>
  new Promise<number>((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => ok(port))
    })
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => null)
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(5)
  }
}

class Server {
  readonly child: ChildProcess
  readonly base: string
  token = ''

  constructor(dataDir: string, port: number) {
    this.base = `http://127.0.0.1:${port}`
    this.child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts')], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MYNTRIX_DATA_DIR: dataDir,
        MYNTRIX_ADMIN_PASSWORD: password,
        MYNTRIX_PORT: String(port),
        MYNTRIX_HOST: '127.0.0.1',
        MYNTRIX_LOG_LEVEL: 'silent',
        ...(checkpointLines > 0 ? { MYNTRIX_TRANSFER_CHECKPOINT_LINES: String(checkpointLines) } : {}),
        ...(checkpointMs >= 0 ? { MYNTRIX_TRANSFER_CHECKPOINT_MS: String(checkpointMs) } : {}),
      },
      stdio: 'ignore',
    })
  }

  async up(): Promise<void> {
    await until('server up', 60_000, async () => ((await fetch(`${this.base}/healthz`)).ok ? true : null))
    const res = await this.call('POST', '/api/auth/token', { username: 'admin', password })
    this.token = res.body.access_token
  }

  async call(method: string, path: string, body?: unknown, raw?: { type: string; data: Buffer }) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(raw
          ? { 'content-type': raw.type }
          : body === undefined
            ? {}
            : { 'content-type': 'application/json' }),
      },
      body: raw ? raw.data : body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : undefined }
  }

  async kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGKILL')
    await exited
  }
}

interface Result {
  serverUpMs: number
  restartAcceptedMs: number
  firstPreambleLineMs: number
  firstFileLineMs: number
  movesBeforeKill: number
  checkpointLine: number
  fromLine: number
  lost: number
  repeated: number
}

async function once(text: string): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), 'myntrix-bench-kill-'))
  const ptyDir = makePtyDir()
  const pty = await startPtyPair(ptyDir)
  const emulator = spawnWireEmulator(pty.emulatorPath, lineCount, ['--wire', '--echo'])
  // Every move the emulator executed, with when it arrived.
  const executed: { at: number; line: string }[] = []
  const isReady = new Promise<void>((ok) => {
    createInterface({ input: emulator.stdout! }).on('line', (line) => {
      if (line === 'ready') ok()
      else if (line.startsWith('rx ')) executed.push({ at: performance.now(), line: line.slice(3) })
    })
  })
  const servers: Server[] = []
  try {
    await isReady
    const first = new Server(dataDir, await freePort())
    servers.push(first)
    await first.up()
    const device = await first.call('POST', '/api/myntrix/devices', {
      name: 'bench',
      connectionString: `serial://${pty.devicePath}?baudRate=115200`,
      configuration: { protocol: 'marlin', temperatureReport: 'off' },
    })
    const id = device.body.id
    const connected = await first.call('POST', `/api/myntrix/devices/${id}/connect`)
    if (connected.status !== 200) throw new Error(`connect: ${JSON.stringify(connected.body)}`)
    const boundary = '----myntrixbench'
    const data = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.gcode"\r\n\r\n`,
      ),
      Buffer.from(text, 'latin1'),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ])
    const uploaded = await first.call('POST', `/api/myntrix/devices/${id}/upload`, undefined, {
      type: `multipart/form-data; boundary=${boundary}`,
      data,
    })
    if (uploaded.status !== 202) throw new Error(`upload: ${JSON.stringify(uploaded.body)}`)
    const jobId = uploaded.body.job.id
    await until('a third of the file', 120_000, async () => (executed.length >= lineCount / 3 ? true : null))

    await first.kill9()
    const killedAt = performance.now()
    const movesBeforeKill = executed.length
    const second = new Server(dataDir, await freePort())
    servers.push(second)
    await second.up()
    const serverUpMs = performance.now() - killedAt
    // The operator's call; 409 until the server has reopened the device.
    let postedAt = 0
    const restarted = await until('restart accepted', 60_000, async () => {
      postedAt = performance.now()
      const res = await second.call('POST', `/api/myntrix/jobs/${jobId}/restart`, { confirm: true })
      return res.status === 202 ? res.body : null
    })
    const restartAcceptedMs = performance.now() - killedAt
    const preamble: string[] = restarted.plan.preamble.lines
    const checkpoint = (await second.call('GET', `/api/myntrix/jobs/${jobId}`)).body.checkpoint
    // What the old server had on the wire still arrives after the kill: the restarted job starts at the accepted call.
    const sinceRestart = () => executed.filter((m) => m.at >= postedAt)
    const firstAny = await until(
      'first line after the restart',
      60_000,
      async () => sinceRestart()[0] ?? null,
    )
    const firstFile = await until(
      'first file line after the restart',
      60_000,
      async () => sinceRestart().find((m) => moveOf(m.line) !== null) ?? null,
    )
    await until('the restarted job ends', 180_000, async () => {
      const job = (await second.call('GET', `/api/myntrix/jobs/${restarted.job.id}`)).body
      if (job.status === 'running' || job.status === 'pending') return null
      if (job.status !== 'completed') throw new Error(`restarted job ${job.status}: ${job.error}`)
      return true
    })
    await sleep(200)
    const counts = new Array<number>(lineCount).fill(0)
    for (const m of executed) {
      const i = moveOf(m.line)
      if (i !== null && i >= 0 && i < lineCount) counts[i]! += 1
    }
    if (preamble.some((l) => moveOf(l) !== null))
      throw new Error('a preamble line looks like a move of the file')
    return {
      serverUpMs,
      restartAcceptedMs,
      firstPreambleLineMs: firstAny.at - killedAt,
      firstFileLineMs: firstFile.at - killedAt,
      movesBeforeKill,
      checkpointLine: checkpoint?.lastAckedLine ?? -1,
      fromLine: restarted.plan.fromLine,
      lost: counts.filter((c) => c === 0).length,
      repeated: counts.reduce((sum, c) => sum + Math.max(0, c - 1), 0),
    }
  } finally {
    for (const s of servers) await s.kill9()
    emulator.kill('SIGTERM')
    await pty.stop()
    removePtyDir(ptyDir)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const text = gcodeFile(lineCount)
const results: Result[] = []
for (let rep = 0; rep < reps; rep++) {
  const r = await once(text)
  results.push(r)
  console.error(
    `rep ${rep + 1}: ${JSON.stringify(r, (_k, v) => (typeof v === 'number' ? Math.round(v) : v))}`,
  )
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
console.log(
  `\n${lineCount} lines, wire modelled at 115200 baud, checkpoint every ${checkpointLines || 'default'} lines and at most every ${checkpointMs >= 0 ? checkpointMs : 'default'} ms, SIGKILL a third of the way in, ${reps} repetitions\n`,
)
console.log('| from the kill to | median ms | each run |')
console.log('| --- | ---: | --- |')
for (const key of ['serverUpMs', 'restartAcceptedMs', 'firstPreambleLineMs', 'firstFileLineMs'] as const) {
  const xs = results.map((r) => r[key])
  console.log(`| ${key} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(', ')} |`)
}
console.log(
  `\nlost: ${results.map((r) => r.lost).join(', ')}; repeated: ${results.map((r) => r.repeated).join(', ')}`,
)
console.log(
  `moves executed before the kill / checkpoint line / restart from: ${results.map((r) => `${r.movesBeforeKill}/${r.checkpointLine}/${r.fromLine}`).join(', ')}`,
)
writeFileSync(
  join(here, `results-kill-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
  JSON.stringify(results, null, 2),
)
