// Raw TCP sockets (serial-to-Ethernet bridges, ESP3D, network firmware).

import { connect, type Socket } from 'node:net'
import { TransportListeners } from './listeners.js'
import {
  type ResolveAddress,
  type Transport,
  TransportError,
  type TransportFactory,
  toTransportError,
} from './types.js'

export class TcpTransport extends TransportListeners implements Transport {
  private socket: Socket | null = null

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly connectTimeoutMs: number,
    /** Without one, the socket resolves the host itself (no policy: tests and trusted callers). */
    private readonly resolveAddress?: ResolveAddress,
  ) {
    super()
  }

  async open(): Promise<void> {
    this.closedByUs = false
    const deadline = new AbortController()
    // The deadline covers the lookup too: a resolver that hangs is a connection that does not come.
    const timer = setTimeout(() => deadline.abort(), this.connectTimeoutMs)
    const timedOut = () =>
      new TransportError(`no TCP connection within ${this.connectTimeoutMs} ms`, 'ETIMEDOUT', {
        timedOut: true,
      })
    try {
      let address = this.host
      if (this.resolveAddress) {
        const lookup = this.resolveAddress(this.host, this.port)
        const expired = new Promise<never>((_, reject) =>
          deadline.signal.addEventListener('abort', () => reject(timedOut()), { once: true }),
        )
        // Once the lookup has won, a later deadline must not become an unhandled rejection.
        expired.catch(() => {})
        try {
          address = (await Promise.race([lookup, expired])).address
        } catch (err) {
          throw toTransportError(err, 'EIO')
        }
      }
      this.socket = await this.connectTo(address, deadline.signal, timedOut)
    } finally {
      clearTimeout(timer)
    }
  }

  private connectTo(address: string, deadline: AbortSignal, timedOut: () => TransportError): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address, port: this.port })
      const onTimeout = () => {
        socket.destroy()
        reject(timedOut())
      }
      if (deadline.aborted) return onTimeout()
      deadline.addEventListener('abort', onTimeout, { once: true })
      const onError = (err: Error) => {
        deadline.removeEventListener('abort', onTimeout)
        socket.destroy()
        reject(toTransportError(err, 'EIO'))
      }
      socket.once('error', onError)
      socket.once('connect', () => {
        deadline.removeEventListener('abort', onTimeout)
        socket.off('error', onError)
        socket.setNoDelay(true)
        let lastError: Error | undefined
        socket.on('data', (chunk: Buffer) => {
          this.emitData(chunk)
        })
        socket.on('error', (err) => {
          lastError = err
        })
        socket.on('close', () => {
          if (this.closedByUs || this.socket !== socket) return
          this.socket = null
          const reason = lastError
            ? toTransportError(lastError, 'ECONNRESET', { disconnected: true })
            : new TransportError('the peer closed the connection', 'ECONNRESET', { disconnected: true })
          this.emitClose(reason)
        })
        resolve(socket)
      })
    })
  }

  write(data: Buffer): Promise<void> {
    const socket = this.socket
    if (!socket || socket.destroyed) {
      return Promise.reject(new TransportError('socket is not connected', 'ENOTCONN', { disconnected: true }))
    }
    return this.written('socket closed', (done) => socket.write(data, done))
  }

  async close(): Promise<void> {
    this.closedByUs = true
    const socket = this.socket
    this.socket = null
    if (!socket || socket.destroyed) return
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve())
      socket.destroy()
    })
  }
}

/** A TCP factory whose sockets go where `resolveAddress` says (the outbound policy's checked address). */
export function tcpTransport(resolveAddress?: ResolveAddress): TransportFactory {
  return {
    create(target, config) {
      if (target.scheme !== 'tcp') throw new TypeError(`tcp transport got a ${target.scheme} target`)
      return new TcpTransport(target.host, target.port, config.connectTimeoutMs, resolveAddress)
    },
  }
}

export const tcp: TransportFactory = tcpTransport()
