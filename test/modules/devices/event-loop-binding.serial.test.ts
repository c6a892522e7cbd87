// The serial binding that reads and writes on the event loop, over a real
// socat pty pair: bytes arrive whole and in order in both directions, a write
// larger than the kernel's tty buffers waits for the port to drain (EAGAIN,
// then the poller's writable), a read pending at close ends quietly, and a
// pulled cable (socat killed) closes the stream as disconnected.

import { SerialPortStream } from '@serialport/stream'
import { SerialPort } from 'serialport'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { eventLoopBinding } from '../../../src/modules/devices/transports/event-loop-binding.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../../helpers/pty.js'

type Stream = SerialPortStream | SerialPort

function open(port: Stream): Promise<void> {
  return new Promise((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
}

function close(port: Stream): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()))
}

function write(port: Stream, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    port.write(data, (err) => (err ? reject(err) : undefined))
    port.drain((err) => (err ? reject(err) : resolve()))
  })
}

/** Collects what `port` reads until `size` bytes arrived. */
function readBytes(port: Stream, size: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let got = 0
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      got += chunk.length
      if (got >= size) {
        port.off('data', onData)
        resolve(Buffer.concat(chunks))
      }
    }
    port.on('data', onData)
  })
}

/** A pattern whose every byte depends on its position, so a lost or reordered chunk shows. */
function pattern(size: number): Buffer {
  const data = Buffer.alloc(size)
  for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 8)) & 0xff
  return data
}

describe.skipIf(!hasSocat)('event-loop serial binding', () => {
  let dir: string
  let pty: PtyPair
  let device: SerialPortStream
  let far: SerialPort

  beforeEach(async () => {
    dir = makePtyDir()
    pty = await startPtyPair(dir)
    device = new SerialPortStream({
      binding: eventLoopBinding,
      path: pty.devicePath,
      baudRate: 115200,
      autoOpen: false,
    })
    far = new SerialPort({ path: pty.emulatorPath, baudRate: 115200, autoOpen: false })
    await open(device)
    await open(far)
  })

  afterEach(async () => {
    await close(device)
    await close(far)
    await pty.stop()
    removePtyDir(dir)
  })

  it('moves 4 MiB each way whole and in order, writes larger than the tty buffers included', async () => {
    const size = 4 * 1024 * 1024
    const out = pattern(size)
    // The far end reads only after the write started: the device's write meets a full buffer.
    const written = write(device, out)
    await new Promise((r) => setTimeout(r, 50))
    const arrived = readBytes(far, size)
    await written
    expect((await arrived).equals(out)).toBe(true)

    const back = pattern(size).reverse()
    const received = readBytes(device, size)
    await write(far, back)
    expect((await received).equals(back)).toBe(true)
  })

  it('ends a read pending at close without an error event', async () => {
    const errors: Error[] = []
    device.on('error', (err) => errors.push(err))
    device.on('data', () => {})
    await new Promise((r) => setTimeout(r, 20))
    const closed = new Promise<unknown>((resolve) => device.once('close', resolve))
    await close(device)
    // A close we asked for carries no disconnect error.
    expect(await closed).toBeNull()
    expect(errors).toEqual([])
  })

  it('reports a pulled cable as a disconnect', async () => {
    device.on('data', () => {})
    device.on('error', () => {})
    const closed = new Promise<(Error & { disconnected?: boolean }) | null>((resolve) =>
      device.once('close', resolve),
    )
    await pty.stop()
    const err = await closed
    expect(err?.disconnected).toBe(true)
  })
})
