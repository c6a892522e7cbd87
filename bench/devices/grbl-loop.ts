// The floors for GRBL: bare Node senders with nothing but the protocol.
//   count: character counting, as GRBL's own stream.py does with -s off: as
//          many lines in flight as fit in the 128-byte receive buffer, each
//          `ok`/`error` freeing the bytes of the oldest line.
//   wait:  send-and-wait, one line in flight, the next written on its `ok`.
// Serialport's default I/O (thread pool); --event-loop: Myntrix's binding.
//   node --import tsx grbl-loop.ts <count|wait> <port> <file> [baud] [--event-loop]
import { readFileSync } from 'node:fs'
import { ReadlineParser } from '@serialport/parser-readline'
import { prepareGcode } from '../../src/modules/firmware/gcode.js'
import { GRBL_DEFAULT_RX_BUFFER } from '../../src/modules/firmware/grbl/wire.js'
import { benchPort } from './bench-port.js'

const [mode, path, file, baudRaw] = process.argv.slice(2)
if ((mode !== 'count' && mode !== 'wait') || path === undefined || file === undefined) {
  console.error('usage: grbl-loop.ts <count|wait> <port> <file> [baud]')
  process.exit(2)
}
const lines = prepareGcode(readFileSync(file, 'latin1'))
const capacity = mode === 'count' ? GRBL_DEFAULT_RX_BUFFER : Number.POSITIVE_INFINITY
const port = benchPort(path, Number(baudRaw ?? 115200))
const parser = port.pipe(new ReadlineParser({ delimiter: '\n' }))
let next = 0
const inFlight: number[] = []
let inFlightBytes = 0
const fill = () => {
  for (;;) {
    const line = lines[next]
    if (line === undefined) break
    const bytes = line.length + 1
    if (inFlight.length > 0 && (mode === 'wait' || inFlightBytes + bytes > capacity)) break
    next++
    inFlight.push(bytes)
    inFlightBytes += bytes
    port.write(`${line}\n`)
  }
  if (next >= lines.length && inFlight.length === 0) {
    console.log('sent')
    port.close(() => process.exit(0))
  }
}
parser.on('data', (line: string) => {
  if (!line.startsWith('ok') && !line.startsWith('error')) return
  inFlightBytes -= inFlight.shift() ?? 0
  fill()
})
port.on('open', fill)
