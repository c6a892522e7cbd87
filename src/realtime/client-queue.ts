// A per-client outbound queue for live feeds (docs/ARCHITECTURE.md, Realtime): a slow consumer
// never slows the producer or other clients. While the socket has too much in
// flight, conflatable messages (telemetry) keep only the latest per key, other
// messages queue up to a bound and past it are dropped and counted; the count
// is sent as a `notice` once the client catches up.

import type { Envelope } from './envelope.js'

/** The few methods of a `ws` WebSocket this queue uses. */
export interface SocketLike {
  readonly readyState: number
  readonly bufferedAmount: number
  send(data: string, cb?: (err?: Error) => void): void
}

export interface ClientQueueOptions {
  /** Sends awaiting the socket's callback before we start holding messages back. */
  maxInFlight?: number
  /** Bytes buffered in the socket before we start holding messages back. */
  maxBufferedBytes?: number
  /** Non-conflatable messages held while the client is behind; past this they are dropped. */
  maxQueued?: number
  /** Message types where only the latest matters (keyed by type + conflationKey). */
  conflate?: (message: Envelope) => string | null
}

const OPEN = 1

export class ClientQueue {
  private inFlight = 0
  private readonly queue: Envelope[] = []
  private readonly latest = new Map<string, Envelope>()
  private dropped = 0
  private closed = false
  private readonly maxInFlight: number
  private readonly maxBufferedBytes: number
  private readonly maxQueued: number
  private readonly conflateKey: (message: Envelope) => string | null

  constructor(
    private readonly socket: SocketLike,
    options: ClientQueueOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 32
    this.maxBufferedBytes = options.maxBufferedBytes ?? 512 * 1024
    this.maxQueued = options.maxQueued ?? 500
    this.conflateKey = options.conflate ?? ((m) => (m.type === 'telemetry' ? 'telemetry' : null))
  }

  push(message: Envelope): void {
    if (this.closed || this.socket.readyState !== OPEN) return
    if (!this.isBehind() && this.queue.length === 0 && this.latest.size === 0) {
      this.write(message)
      return
    }
    const key = this.conflateKey(message)
    if (key !== null) {
      this.latest.set(key, message)
    } else if (this.queue.length < this.maxQueued) {
      this.queue.push(message)
    } else {
      this.dropped++
    }
  }

  close(): void {
    this.closed = true
    this.queue.length = 0
    this.latest.clear()
  }

  private isBehind(): boolean {
    return this.inFlight >= this.maxInFlight || this.socket.bufferedAmount > this.maxBufferedBytes
  }

  private write(message: Envelope): void {
    this.inFlight++
    this.socket.send(JSON.stringify(message), () => {
      this.inFlight--
      this.flush()
    })
  }

  private flush(): void {
    if (this.closed || this.socket.readyState !== OPEN) return
    if (this.dropped > 0 && !this.isBehind()) {
      const count = this.dropped
      this.dropped = 0
      this.write({ type: 'notice', ts: new Date().toISOString(), payload: { dropped: count } })
    }
    while (!this.isBehind() && this.queue.length > 0) this.write(this.queue.shift()!)
    if (!this.isBehind() && this.latest.size > 0) {
      const pending = [...this.latest.values()]
      this.latest.clear()
      for (const m of pending) this.write(m)
    }
  }
}
