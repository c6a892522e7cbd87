// The event bus of a node in a cluster: every event is delivered to this
// node's listeners at once, as on one instance, and published on Redis
// (`myx.event.<name>`) for the other nodes. There it reaches only the
// listeners that asked for peers' events (onAnyNode: the live feeds of
// WebSocket and SSE clients), never on() listeners with side effects, which
// must act once, on the node where the event happened. A node subscribes to an
// event's channel while it has at least one such listener for it.

import { EventEmitter } from 'node:events'
import { EventBus, type EventName, type Listener } from '../events/bus.js'
import type { Logger } from '../logger.js'
import type { RedisLink } from './redis-link.js'

interface Envelope {
  /** The publishing node: its own events come back from Redis and are skipped. */
  from: string
  payload: unknown
}

export const eventChannel = (name: EventName) => `myx.event.${name}`

export class RedisEventBus extends EventBus {
  private readonly peers = new EventEmitter()
  private readonly subscriptions = new Map<EventName, { count: number; off: Promise<() => Promise<void>> }>()
  /** Publishes not yet handed to Redis, so a test (or a stop) can wait for them. */
  private inFlight = new Set<Promise<unknown>>()
  private warnedTooLarge = false

  constructor(
    private readonly link: RedisLink,
    private readonly nodeId: string,
    private readonly logger: Logger,
  ) {
    super()
    this.peers.setMaxListeners(0)
  }

  override emit<K extends EventName>(name: K, payload: Parameters<Listener<K>>[0]): void {
    super.emit(name, payload)
    const envelope: Envelope = { from: this.nodeId, payload }
    const sent = this.link.publish(eventChannel(name), JSON.stringify(envelope)).catch((err) => {
      // A live feed misses one event (a giant log line, Redis away); the state is still in the database.
      if (!this.warnedTooLarge) this.logger.warn({ err, event: name }, 'could not publish an event to peers')
      this.warnedTooLarge = true
    })
    this.inFlight.add(sent)
    void sent.finally(() => this.inFlight.delete(sent))
  }

  override onAnyNode<K extends EventName>(
    name: K,
    listener: Listener<K>,
  ): (() => void) & { ready?: Promise<void> } {
    const offLocal = this.on(name, listener)
    const wrapped = (payload: Parameters<Listener<K>>[0]) => {
      try {
        listener(payload)
      } catch {
        // As on(): a faulty listener must not break the others.
      }
    }
    this.peers.on(name, wrapped)
    const sub = this.retain(name)
    let done = false
    const off = () => {
      if (done) return
      done = true
      offLocal()
      this.peers.off(name, wrapped)
      this.release(name)
    }
    return Object.assign(off, { ready: sub.then(() => {}) })
  }

  /** Resolves when every event emitted so far was handed to Redis. */
  async flushed(): Promise<void> {
    await Promise.all([...this.inFlight])
  }

  private retain(name: EventName): Promise<unknown> {
    const existing = this.subscriptions.get(name)
    if (existing) {
      existing.count++
      return existing.off
    }
    const off = this.link.subscribe(eventChannel(name), (message) => this.fromPeer(name, message))
    off.catch((err) => this.logger.warn({ err, event: name }, 'could not subscribe to peers\u2019 events'))
    this.subscriptions.set(name, { count: 1, off })
    return off
  }

  private release(name: EventName): void {
    const sub = this.subscriptions.get(name)
    if (!sub) return
    sub.count--
    if (sub.count > 0) return
    this.subscriptions.delete(name)
    void sub.off.then((off) => off()).catch(() => {})
  }

  private fromPeer(name: EventName, message: string): void {
    let envelope: Envelope
    try {
      envelope = JSON.parse(message) as Envelope
    } catch {
      return
    }
    if (envelope.from === this.nodeId) return
    this.peers.emit(name, envelope.payload)
  }
}
