// The port a bare bench loop opens: serialport as installed (its default I/O,
// through libuv's thread pool), or with --event-loop the binding Myntrix uses
// (src/modules/devices/transports/event-loop-binding.ts), under the same stream.

import { SerialPortStream } from '@serialport/stream'
import { SerialPort } from 'serialport'
import { eventLoopBinding } from '../../src/modules/devices/transports/event-loop-binding.js'

export function benchPort(path: string, baudRate: number): SerialPort | SerialPortStream {
  return process.argv.includes('--event-loop')
    ? new SerialPortStream({ binding: eventLoopBinding, path, baudRate })
    : new SerialPort({ path, baudRate })
}
