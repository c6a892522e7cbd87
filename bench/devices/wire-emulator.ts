// The bench's far end: Myntrix's Marlin or GRBL emulator on one end of a pty,
// with the serial wire optionally modelled. GRBL starts in check mode (`$C`):
// it parses and answers every line at once and moves nothing, as the real
// firmware did in the measurement. A pty ignores the baud rate (it moves
// bytes as fast as both ends read), so with --wire every byte in each direction occupies the line for
// 10 bits at the baud rate (8N1) before the other side sees it.
//   node --import tsx wire-emulator.ts <pty> <expectedMoves> [--wire] [--baud 115200] [--grbl] [--echo]
// With --echo every line executed is also printed as `rx <line>` (kill-restart.ts counts them).
// Prints `ready`, then `done <ms> <moves>` when the last expected G1 line has
// been acknowledged: timed from the first G1 received to that ok (so each
// sender's start-up and shutdown sleeps do not count).

import { SerialPort } from 'serialport'
import { GrblEmulator } from '../../src/modules/firmware/grbl/emulator.js'
import { MarlinEmulator } from '../../src/modules/firmware/marlin/emulator.js'

const [path, expectedRaw, ...flags] = process.argv.slice(2)
if (path === undefined) {
  console.error('usage: wire-emulator.ts <pty> <expectedMoves> [--wire] [--baud 115200] [--grbl] [--echo]')
  process.exit(2)
}
const expected = Number(expectedRaw)
const isWire = flags.includes('--wire')
const isEcho = flags.includes('--echo')
const baudIndex = flags.indexOf('--baud')
const baud = baudIndex >= 0 ? Number(flags[baudIndex + 1]) : 115200
const bytesPerMs = baud / 10 / 1000

const emulator = flags.includes('--grbl')
  ? new GrblEmulator()
  : new MarlinEmulator({ autoReportTemperature: false })
// Before any listener: check mode's `[MSG:Enabled]` and `ok` go nowhere.
if (emulator instanceof GrblEmulator) emulator.write('$C\n')
const port = new SerialPort({ path, baudRate: baud }, (err) => {
  if (err) {
    console.error(`cannot open ${path}: ${err.message}`)
    process.exit(2)
  }
  console.log('ready')
})

const now = () => performance.now()
let moves = 0
let firstMoveAt = 0
let isDone = false

// Counts G1 lines as the emulator executes them.
const received = emulator.received
const push = received.push.bind(received)
received.push = (...lines: string[]) => {
  for (const line of lines) {
    if (isEcho) console.log(`rx ${line}`)
    if (!line.startsWith('G1')) continue
    if (moves === 0) firstMoveAt = now()
    moves++
  }
  // Keep memory flat over many runs.
  if (received.length > 1000) received.length = 0
  return push(...lines)
}

/** Time-ordered deliveries; each sits on its wire until its due time. */
interface Delivery {
  due: number
  run: () => void
}
const queue: Delivery[] = []
let inFreeAt = 0
let outFreeAt = 0
let timer: NodeJS.Timeout | null = null

function schedule(bytes: number, direction: 'in' | 'out', run: () => void): void {
  if (!isWire) {
    run()
    return
  }
  const t = now()
  const start = Math.max(t, direction === 'in' ? inFreeAt : outFreeAt)
  const due = start + bytes / bytesPerMs
  if (direction === 'in') inFreeAt = due
  else outFreeAt = due
  queue.push({ due, run })
  pump()
}

// Timers are millisecond-coarse; the last stretch is waited with setImmediate
// so a 3.6 ms line is not rounded up to 5.
function pump(): void {
  if (timer) return
  const step = () => {
    timer = null
    const t = now()
    for (let head = queue[0]; head !== undefined && head.due <= t; head = queue[0]) {
      queue.shift()
      head.run()
    }
    const head = queue[0]
    if (head === undefined) return
    const wait = head.due - t
    if (wait > 2) timer = setTimeout(step, wait - 1.5)
    else setImmediate(step)
  }
  timer = setTimeout(step, 0)
}

let afterOk = ''
emulator.onOutput((data) => {
  schedule(data.length, 'out', () => {
    port.write(Buffer.from(data, 'latin1'))
    afterOk += data
    // The ok of the last expected move ends the timed run.
    if (!isDone && moves >= expected && /(^|\n)ok/.test(afterOk)) {
      isDone = true
      console.log(`done ${(now() - firstMoveAt).toFixed(3)} ${moves}`)
    }
    if (afterOk.length > 64) afterOk = afterOk.slice(-16)
  })
})

port.on('data', (chunk: Buffer) => {
  // Bytes arrive line by line on the wire; deliver each line when its last byte would.
  let start = 0
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === 0x0a) {
      const piece = chunk.subarray(start, i + 1)
      schedule(piece.length, 'in', () => emulator.write(piece))
      start = i + 1
    }
  }
  if (start < chunk.length) {
    const piece = chunk.subarray(start)
    schedule(piece.length, 'in', () => emulator.write(piece))
  }
})
port.on('close', () => process.exit(0))
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
