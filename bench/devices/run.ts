// Streams the same 2,000-line G-code file over a socat pty to the same
// emulator with several senders, in one run, and reports each as a ratio to
// the floor of the same repetition (docs/PERFORMANCE.md, Devices). Each
// repetition runs every sender without and with the 115200-baud wire modelled
// at the emulator, in a rotating order.
//   Marlin (default): the limit (a minimal send-and-wait-for-ok loop, the
//     floor), Myntrix (upload + device-transfer job), Debian's printcore, and
//     the limit loop again on Myntrix's serial binding (limit-el).
//   GRBL (--grbl): a bare character-counting loop (the floor), a bare
//     send-and-wait loop, Myntrix (its character-counting transfer job), and
//     the counting loop on Myntrix's serial binding (count-el), to the GRBL
//     emulator in check mode, `G1 X.. Y.. F500` lines.
//   The bare loops use serialport's default I/O, as a sender written against
//   serialport does.
//   npx tsx bench/devices/run.ts [--grbl [--status-poll-ms N]] [--reps 3] [--lines 2000]

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { makePtyDir, removePtyDir, startPtyPair } from '../../test/helpers/pty.js'
import { spawnWireEmulator } from './emulator-process.js'

const here = dirname(fileURLToPath(import.meta.url))
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const reps = arg('--reps', 3)
const lineCount = arg('--lines', 2000)
const baud = 115200
const isGrbl = process.argv.includes('--grbl')
// GRBL only: Myntrix's status poll period (default: the device default, 250 ms; 0 turns it off).
const statusPollMs = arg('--status-poll-ms', -1)
const statusPollArgs = statusPollMs >= 0 ? ['--status-poll-ms', String(statusPollMs)] : []

const hasPrintcore =
  spawnSync('/usr/bin/python3', ['-c', 'import printrun.printcore'], { stdio: 'ignore' }).status === 0

function gcodeFile(n: number): string {
  if (isGrbl) {
    let text = '; bench file\nG21\nG90\n'
    for (let i = 0; i < n; i++) {
      const x = 100 + 40 * Math.cos(i / 20)
      const y = 100 + 40 * Math.sin(i / 20)
      text += `G1 X${x.toFixed(3)} Y${y.toFixed(3)} F500\n`
    }
    return text
  }
  let text = '; bench file\nG21\nG90\nM82\n'
  let e = 0
  for (let i = 0; i < n; i++) {
    e += 0.03125
    const x = 100 + 40 * Math.cos(i / 20)
    const y = 100 + 40 * Math.sin(i / 20)
    text += `G1 X${x.toFixed(3)} Y${y.toFixed(3)} E${e.toFixed(5)} ; move ${i}\n`
  }
  return text
}

type Sender = 'limit' | 'myntrix' | 'printcore' | 'count' | 'wait' | 'limit-el' | 'count-el'
// The first sender is the floor the others are divided by. The `-el` floors
// are the same loops on Myntrix's event-loop serial binding: the ratio to them
// is Myntrix's own cost, without what its I/O path gains over serialport's.
const senders: Sender[] = isGrbl
  ? ['count', 'wait', 'myntrix', 'count-el']
  : ['limit', 'myntrix', ...(hasPrintcore ? (['printcore'] as Sender[]) : []), 'limit-el']
const floor = senders[0]!

function command(sender: Sender, port: string, file: string): [string, string[]] {
  const tsx = ['--import', 'tsx']
  if (sender === 'limit' || sender === 'limit-el') {
    const args = [...tsx, join(here, 'minimal-loop.ts'), port, file, String(baud)]
    return [process.execPath, sender === 'limit-el' ? [...args, '--event-loop'] : args]
  }
  if (sender === 'count' || sender === 'wait' || sender === 'count-el') {
    const mode = sender === 'count-el' ? 'count' : sender
    const args = [...tsx, join(here, 'grbl-loop.ts'), mode, port, file, String(baud)]
    return [process.execPath, sender === 'count-el' ? [...args, '--event-loop'] : args]
  }
  if (sender === 'myntrix') {
    const args = [...tsx, join(here, 'myntrix-send.ts'), port, file, String(baud)]
    return [process.execPath, isGrbl ? [...args, '--grbl', ...statusPollArgs] : args]
  }
  return ['/usr/bin/python3', [join(here, 'printcore_send.py'), port, file, String(baud)]]
}

function lineFrom(child: ChildProcess, pattern: RegExp, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! })
    const timer = setTimeout(
      () => reject(new Error(`${what}: no ${pattern} within ${timeoutMs} ms`)),
      timeoutMs,
    )
    rl.on('line', (line) => {
      if (!pattern.test(line)) return
      clearTimeout(timer)
      rl.close()
      resolve(line)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${what} exited with ${code} before ${pattern}`))
    })
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(t)
}

async function once(sender: Sender, file: string, wire: boolean): Promise<number> {
  const dir = makePtyDir()
  const pty = await startPtyPair(dir)
  const emulator = spawnWireEmulator(pty.emulatorPath, lineCount, [
    ...(wire ? ['--wire'] : []),
    ...(isGrbl ? ['--grbl'] : []),
  ])
  let child: ChildProcess | null = null
  try {
    await lineFrom(emulator, /^ready$/, 'emulator', 20_000)
    const done = lineFrom(emulator, /^done /, 'emulator', 180_000)
    const [cmd, args] = command(sender, pty.devicePath, file)
    child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    child.stdout!.resume()
    const ms = Number((await done).split(' ')[1])
    return lineCount / (ms / 1000)
  } finally {
    if (child) await stopChild(child)
    await stopChild(emulator)
    await pty.stop()
    removePtyDir(dir)
  }
}

const work = mkdtempSync(join(tmpdir(), 'myntrix-bench-devices-'))
const file = join(work, 'bench.gcode')
writeFileSync(file, gcodeFile(lineCount))
const results: Record<'no wire' | 'wire modelled', Partial<Record<Sender, number>>[]> = {
  'no wire': [],
  'wire modelled': [],
}
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const [mode, wire] of [
      ['no wire', false],
      ['wire modelled', true],
    ] as const) {
      const row: Partial<Record<Sender, number>> = {}
      // Rotate the order so no sender always runs first.
      const shift = rep % senders.length
      const order = [...senders.slice(shift), ...senders.slice(0, shift)]
      for (const sender of order) {
        const rate = await once(sender, file, wire)
        row[sender] = rate
        console.error(`rep ${rep + 1} ${mode} ${sender}: ${rate.toFixed(0)} lines/s`)
      }
      results[mode].push(row)
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
console.log(
  `\n${isGrbl ? 'GRBL' : 'Marlin'}, ${lineCount} lines, ${baud} baud, ${reps} repetitions (median; ratio to ${floor} of the same repetition)\n`,
)
console.log(`| mode | sender | lines/s | ratio to ${floor} |`)
console.log('| --- | --- | ---: | ---: |')
for (const [mode, rows] of Object.entries(results)) {
  for (const sender of senders) {
    const rates = rows.map((r) => r[sender] ?? Number.NaN)
    const ratios = rows.map((r) => (r[sender] ?? Number.NaN) / (r[floor] ?? Number.NaN))
    console.log(`| ${mode} | ${sender} | ${median(rates).toFixed(0)} | ${median(ratios).toFixed(3)} |`)
  }
}
if (!isGrbl && !hasPrintcore)
  console.log('\nprintcore not found (apt-get install printrun): its rows are missing')
writeFileSync(
  join(here, `results-${isGrbl ? 'grbl-' : ''}${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
  JSON.stringify(results, null, 2),
)
