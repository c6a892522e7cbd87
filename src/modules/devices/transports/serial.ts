// Serial ports through `serialport` 13 (the real kernel tty, a USB adapter
// or a pseudo-terminal in tests).

import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { SerialPort } from 'serialport'
import { TransportListeners } from './listeners.js'
import { type Transport, TransportError, type TransportFactory, toTransportError } from './types.js'

/** The few methods of serialport's stream that we call. */
interface PortLike {
  readonly isOpen: boolean
  open(cb: (err: Error | null) => void): void
  write(data: Buffer, cb: (err: Error | null | undefined) => void): boolean
  close(cb: (err: Error | null) => void): void
  on(event: 'data', listener: (chunk: Buffer) => void): unknown
  on(event: 'close', listener: (err?: Error & { disconnected?: boolean }) => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  removeAllListeners(): unknown
}

export class SerialTransport extends TransportListeners implements Transport {
  private port: PortLike | null = null

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
    let port: PortLike
    try {
      port = new SerialPort({
        path: this.path,
        baudRate: this.baudRate,
        autoOpen: false,
      }) as unknown as PortLike
    } catch (err) {
      // The constructor throws synchronously on an invalid baud rate or path.
      throw toTransportError(err, 'EINVAL')
    }
    await new Promise<void>((resolve, reject) => {
      port.open((err) => (err ? reject(toTransportError(err, 'EIO')) : resolve()))
    })
    this.port = port
    this.closedByUs = false
    port.on('data', (chunk) => {
      this.emitData(chunk)
    })
    // Errors after open surface again as 'close' with `disconnected`; the
    // listener only keeps an 'error' event from becoming an uncaught exception.
    port.on('error', () => {})
    port.on('close', (err) => {
      if (this.closedByUs) return
      this.port = null
      const reason = err
        ? toTransportError(err, 'EIO', { disconnected: true })
        : new TransportError('serial port closed', 'EIO', { disconnected: true })
      this.emitClose(reason)
    })
  }

  write(data: Buffer): Promise<void> {
    const port = this.port
    if (!port?.isOpen) {
      return Promise.reject(new TransportError('serial port is not open', 'ENOTCONN', { disconnected: true }))
    }
    return this.written('serial port closed', (done) => port.write(data, done))
  }

  async close(): Promise<void> {
    this.closedByUs = true
    const port = this.port
    this.port = null
    if (!port) return
    await new Promise<void>((resolve) => {
      if (!port.isOpen) return resolve()
      port.close(() => resolve())
    })
    port.removeAllListeners()
    port.on('error', () => {})
  }
}

export const serial: TransportFactory = {
  create(target, config) {
    if (target.scheme !== 'serial') throw new TypeError(`serial transport got a ${target.scheme} target`)
    return new SerialTransport(target.path, target.baudRate ?? config.baudRate)
  },
}
