// Raw TCP sockets (serial-to-Ethernet bridges, ESP3D, network firmware).

import { connect, type Socket } from 'node:net'
import { type Transport, TransportError, type TransportFactory, toTransportError } from './types.js'

export class TcpTransport implements Transport {
  private socket: Socket | null = null
  private closedByUs = false
  private readonly dataListeners: ((chunk: Buffer) => void)[] = []
  private readonly closeListeners: ((err?: TransportError) => void)[] = []

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly connectTimeoutMs: number,
  ) {}

  open(): Promise<void> {
    this.closedByUs = false
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(
          new TransportError(`no TCP connection within ${this.connectTimeoutMs} ms`, 'ETIMEDOUT', {
            timedOut: true,
          }),
        )
      }, this.connectTimeoutMs)
      const onError = (err: Error) => {
        clearTimeout(timer)
        socket.destroy()
        reject(toTransportError(err, 'EIO'))
      }
      socket.once('error', onError)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.off('error', onError)
        socket.setNoDelay(true)
        this.socket = socket
        let lastError: Error | undefined
        socket.on('data', (chunk: Buffer) => {
          for (const l of this.dataListeners) l(chunk)
        })
        socket.on('error', (err) => {
          lastError = err
        })
        socket.on('close', () => {
          if (this.closedByUs) return
          this.socket = null
          const reason = lastError
            ? toTransportError(lastError, 'ECONNRESET', { disconnected: true })
            : new TransportError('the peer closed the connection', 'ECONNRESET', { disconnected: true })
          for (const l of this.closeListeners) l(reason)
        })
        resolve()
      })
    })
  }

  write(data: Buffer): Promise<void> {
    const socket = this.socket
    if (!socket || socket.destroyed) {
      return Promise.reject(new TransportError('socket is not connected', 'ENOTCONN', { disconnected: true }))
    }
    return new Promise((resolve, reject) => {
      socket.write(data, (err) => {
        if (!err) resolve()
        else if (this.closedByUs) reject(new TransportError('socket closed', 'ECANCELED', { canceled: true }))
        else reject(toTransportError(err, 'EIO', { disconnected: true }))
      })
    })
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

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener)
  }

  onClose(listener: (err?: TransportError) => void): void {
    this.closeListeners.push(listener)
  }
}

export const tcp: TransportFactory = {
  create(target, config) {
    if (target.scheme !== 'tcp') throw new TypeError(`tcp transport got a ${target.scheme} target`)
    return new TcpTransport(target.host, target.port, config.connectTimeoutMs)
  },
}
