// Serial ports (the real kernel tty, a USB adapter or a pseudo-terminal in
// tests) through serialport 13's binding, used directly: the port is opened
// and configured (baud rate, 8N1, exclusive lock) by the binding, and bytes
// are read and written on the event loop (event-loop-binding.ts says why).
// serialport's stream layer is left out: a line answered by the device would
// pass through its Readable and Writable machinery on every round trip, and
// the transport needs none of it (the connection splits lines itself).

import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import type { BindingPortInterface } from '@serialport/bindings-cpp'
import { eventLoopBinding } from './event-loop-binding.js'
import { TransportListeners } from './listeners.js'
import { type Transport, TransportError, type TransportFactory, toTransportError } from './types.js'

/** Bytes asked for per read; a device's answer is far smaller. */
const READ_SIZE = 64 * 1024

export class SerialTransport extends TransportListeners implements Transport {
  private port: BindingPortInterface | null = null
  /** The write in progress: a binding takes one write at a time, or two could interleave. */
  private writing: Promise<void> | null = null

  constructor(
    private readonly path: string,
    private readonly baudRate: number,
  ) {
    super()
  }

  async open(): Promise<void> {
    // serialport reports a missing or forbidden path as strerror text only;
    // asking the kernel first gives the real errno code.
    try {
      await access(this.path, constants.R_OK | constants.W_OK)
    } catch (err) {
      throw toTransportError(err, 'EIO')
    }
    if (!Number.isInteger(this.baudRate) || this.baudRate <= 0) {
      throw new TransportError(`baud rate must be a positive integer, got ${this.baudRate}`, 'EINVAL')
    }
    let port: BindingPortInterface
    try {
      port = await eventLoopBinding.open({ path: this.path, baudRate: this.baudRate })
    } catch (err) {
      throw toTransportError(err, 'EIO')
    }
    this.port = port
    this.closedByUs = false
    void this.readLoop(port)
  }

  write(data: Buffer): Promise<void> {
    const port = this.port
    if (!port?.isOpen) {
      return Promise.reject(new TransportError('serial port is not open', 'ENOTCONN', { disconnected: true }))
    }
    const previous = this.writing
    const operation = this.written('serial port closed', (done) => {
      // Nothing waiting (the usual case): the bytes go out in this tick.
      const write = previous ? previous.then(() => port.write(data)) : port.write(data)
      write.then(() => done(), done)
    })
    this.writing = operation
    const settled = () => {
      if (this.writing === operation) this.writing = null
    }
    operation.then(settled, settled)
    return operation
  }

  async close(): Promise<void> {
    this.closedByUs = true
    const port = this.port
    this.port = null
    if (!port?.isOpen) return
    // The read waiting on the port ends, canceled.
    await port.close().catch(() => {})
  }

  /** Reads until the port closes; a read that fails by itself is the link dropping. */
  private async readLoop(port: BindingPortInterface): Promise<void> {
    const buffer = Buffer.allocUnsafe(READ_SIZE)
    for (;;) {
      let bytesRead: number
      try {
        ;({ bytesRead } = await port.read(buffer, 0, READ_SIZE))
      } catch (err) {
        if (this.port !== port || this.closedByUs) return
        this.port = null
        this.emitClose(toTransportError(err, 'EIO', { disconnected: true }))
        // The port is unusable now; free its descriptor and poller (a tty's close may wait for output to drain).
        if (port.isOpen) void port.close().catch(() => {})
        return
      }
      if (this.port !== port) return
      // A copy: the buffer is read into again while listeners may keep the chunk.
      this.emitData(Buffer.from(buffer.subarray(0, bytesRead)))
    }
  }
}

export const serial: TransportFactory = {
  create(target, config) {
    if (target.scheme !== 'serial') throw new TypeError(`serial transport got a ${target.scheme} target`)
    return new SerialTransport(target.path, target.baudRate ?? config.baudRate)
  },
}
