// serialport's own binding reads and writes a port through libuv's thread
// pool (fs.read / fs.write): every chunk the device sends costs a hop to a
// pool thread and back, and so does every line written. For a sender that
// waits for an `ok` before its next line, those hops are a large share of each
// line's round trip. This binding keeps serialport's open, close, control
// lines and termios settings, and does the reads and writes itself with
// nonblocking syscalls on the event loop, waiting for the port to become
// readable or writable on the same poller serialport uses.
//
// As with serialport's own bindings, a port takes one write at a time (the
// caller waits for one before the next). On Windows (no file descriptor,
// overlapped I/O) the stock binding is used unchanged.

import { readSync, writeSync } from 'node:fs'
import {
  autoDetect,
  type BindingInterface,
  type BindingPortInterface,
  BindingsError,
  type OpenOptions,
  type PortInfo,
  type PortStatus,
  type SetOptions,
  type UpdateOptions,
} from '@serialport/bindings-cpp'

/** What a unix port of serialport 13's binding has beyond its interface. */
interface UnixPort extends BindingPortInterface {
  fd: number | null
  poller: { once(event: 'readable' | 'writable', callback: (err: Error | null) => void): unknown }
}

function isUnixPort(port: BindingPortInterface): port is UnixPort {
  return 'fd' in port && 'poller' in port
}

/**
 * Try again once the poller says so. Any other error ends the read or write:
 * whoever reads the port takes a failed read that it did not cancel for the
 * link going away (serial.ts, and serialport's stream alike).
 */
const RETRY = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR'])

const isRetry = (err: unknown) => RETRY.has((err as { code?: string }).code ?? '')

class EventLoopPort implements BindingPortInterface {
  private writing: Promise<void> | null = null

  constructor(private readonly port: UnixPort) {}

  get openOptions() {
    return this.port.openOptions
  }

  get isOpen(): boolean {
    return this.port.isOpen
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    for (;;) {
      // Waiting first: the reader asks again right after each chunk, and the
      // port is then nearly always empty (a read would only say EAGAIN).
      await this.when('readable')
      const fd = this.openFd()
      try {
        const bytesRead = readSync(fd, buffer, offset, length, null)
        if (bytesRead > 0) return { buffer, bytesRead }
        // Readable and nothing to read: the line hung up (Linux says EIO; other kernels end the file).
        throw Object.assign(new Error('the serial port hung up'), { code: 'EOF' })
      } catch (err) {
        if (!isRetry(err)) throw err
      }
    }
  }

  write(buffer: Buffer): Promise<void> {
    const operation = this.writeAll(buffer).finally(() => {
      if (this.writing === operation) this.writing = null
    })
    this.writing = operation
    return operation
  }

  async drain(): Promise<void> {
    await this.writing
    await this.port.drain()
  }

  close(): Promise<void> {
    return this.port.close()
  }

  update(options: UpdateOptions): Promise<void> {
    return this.port.update(options)
  }

  set(options: SetOptions): Promise<void> {
    return this.port.set(options)
  }

  get(): Promise<PortStatus> {
    return this.port.get()
  }

  getBaudRate(): Promise<{ baudRate: number }> {
    return this.port.getBaudRate()
  }

  flush(): Promise<void> {
    return this.port.flush()
  }

  private async writeAll(buffer: Buffer): Promise<void> {
    let offset = 0
    while (offset < buffer.length) {
      const fd = this.openFd()
      let written = 0
      try {
        written = writeSync(fd, buffer, offset, buffer.length - offset)
      } catch (err) {
        if (!isRetry(err)) throw err
      }
      offset += written
      // Nothing taken (EAGAIN, or a driver that answers 0): wait, never spin.
      if (written === 0) await this.when('writable')
    }
  }

  private openFd(): number {
    const fd = this.port.fd
    if (fd === null) throw new BindingsError('Port is not open', { canceled: true })
    return fd
  }

  /** Resolves when the poller reports the port ready; rejects (canceled) when the port closes meanwhile. */
  private when(event: 'readable' | 'writable'): Promise<void> {
    this.openFd()
    return new Promise((resolve, reject) => {
      this.port.poller.once(event, (err) => (err ? reject(err) : resolve()))
    })
  }
}

// The platform's bindings differ only in their extra open options, which Myntrix does not pass.
const stock = autoDetect() as BindingInterface

export const eventLoopBinding: BindingInterface<BindingPortInterface, OpenOptions, PortInfo> = {
  list: () => stock.list(),
  async open(options: OpenOptions): Promise<BindingPortInterface> {
    const port: BindingPortInterface = await stock.open(options)
    return isUnixPort(port) ? new EventLoopPort(port) : port
  },
}
