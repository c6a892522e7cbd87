// The physical limit: the least a sender can do. Same bytes as Myntrix and
// printcore send (N-numbered lines with checksums), one line in flight, the
// next written the moment its `ok` arrives. It reads and writes the port as
// serialport does by default (libuv thread pool); with --event-loop it uses
// the binding Myntrix uses (devices/transports/event-loop-binding.ts), which
// separates what Myntrix's I/O path gains from what its own work costs.
//   node --import tsx minimal-loop.ts <port> <file> [baud] [--event-loop]
import { readFileSync } from 'node:fs'
import { ReadlineParser } from '@serialport/parser-readline'
import { prepareGcode } from '../../src/modules/firmware/gcode.js'
import { marlinFrame } from '../../src/modules/firmware/marlin/wire.js'
import { benchPort } from './bench-port.js'

const [path, file, baudRaw] = process.argv.slice(2)
if (path === undefined || file === undefined) {
  console.error('usage: minimal-loop.ts <port> <file> [baud]')
  process.exit(2)
}
const lines = ['M110 N0', ...prepareGcode(readFileSync(file, 'latin1'))]
const port = benchPort(path, Number(baudRaw ?? 115200))
const parser = port.pipe(new ReadlineParser({ delimiter: '\n' }))
let next = 0
const send = () => {
  const line = lines[next]
  if (line === undefined) {
    console.log('sent')
    port.close(() => process.exit(0))
    return
  }
  const text = next === 0 ? marlinFrame(0, 'M110 N0') : marlinFrame(next, line)
  next++
  port.write(`${text}\n`)
}
parser.on('data', (line: string) => {
  if (line.startsWith('ok')) send()
})
port.on('open', send)
