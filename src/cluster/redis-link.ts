// The one pair of Redis connections a node keeps: one publishes, one is in
// subscriber mode (Redis allows nothing else on it). The bus and the rpc both
// listen through it; a channel is subscribed while at least one handler wants
// it and unsubscribed when the last one goes (reference counted), so a node
// receives only what its own clients and requests need.
//
// Redis here only moves live data and requests; it decides nothing, and it is
// not trusted: every message is sealed by the sender and opened by the receiver
// (message-seal.ts), and one that does not open is dropped and reported, never
// handed on. Every message's text stays under MAX_MESSAGE_BYTES (sealed, a third
// more): pub/sub is for small envelopes, and a large one would hold up every
// other message on the connection.

import { Redis } from 'ioredis'
import { PayloadTooLargeError } from '../errors.js'
import type { MessageSeal, OpenResult } from './message-seal.js'

export const MAX_MESSAGE_BYTES = 64 * 1024
/** The longest sealed form of a message under MAX_MESSAGE_BYTES (base64 of IV, tag and text, and the header). */
const MAX_SEALED_CHARS = Math.ceil((MAX_MESSAGE_BYTES + 28) / 3) * 4 + 32

/**
 * A message sent longer ago than this (on the sender's clock against the receiver's, either
 * way) is dropped: pub/sub delivers in milliseconds, so only a replay or a skewed clock is
 * that late. Nodes' clocks must agree to well within it (NTP).
 */
export const MESSAGE_MAX_AGE_MS = 60_000

export type MessageHandler = (message: string) => void

export interface RedisLinkOptions {
  /** Connection errors (ioredis reconnects by itself). */
  onError: (err: unknown) => void
  seal: MessageSeal
  /** A message that did not open: dropped; the reason says why. */
  onRejected: (channel: string, reason: Extract<OpenResult, { ok: false }>['reason']) => void
}

export class RedisLink {
  private readonly handlers = new Map<string, Set<MessageHandler>>()
  /** The SUBSCRIBE/UNSUBSCRIBE in flight per channel, so a quick off-then-on keeps the order. */
  private readonly pending = new Map<string, Promise<unknown>>()
  private closed = false

  private constructor(
    readonly pub: Redis,
    private readonly sub: Redis,
    private readonly options: RedisLinkOptions,
  ) {
    sub.on('message', (channel: string, sealed: string) => {
      const handlers = this.handlers.get(channel)
      if (!handlers?.size) return
      // No node sends more; a larger one is not decoded at all (it would cost every node its size).
      const opened =
        sealed.length > MAX_SEALED_CHARS
          ? ({ ok: false, reason: 'malformed' } as const)
          : options.seal.open(channel, sealed, MESSAGE_MAX_AGE_MS)
      if (!opened.ok) {
        options.onRejected(channel, opened.reason)
        return
      }
      const message = opened.text
      for (const handler of handlers) {
        try {
          handler(message)
        } catch {
          // One faulty handler must not starve the others.
        }
      }
    })
  }

  /** Connects both connections; rejects (and closes them) when Redis cannot be reached. */
  static async connect(url: string, linkOptions: RedisLinkOptions): Promise<RedisLink> {
    const { onError } = linkOptions
    const options = { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true }
    const pub = new Redis(url, options)
    const sub = new Redis(url, options)
    // ioredis reconnects by itself; without a listener an error event would end the process.
    pub.on('error', onError)
    sub.on('error', onError)
    try {
      await Promise.all([pub.connect(), sub.connect()])
    } catch (err) {
      pub.disconnect()
      sub.disconnect()
      // The host only: the URL may carry a password.
      throw new Error(`cannot reach Redis at ${new URL(url).host}: ${(err as Error).message}`, { cause: err })
    }
    return new RedisLink(pub, sub, linkOptions)
  }

  /** Adds a handler for `channel`; resolves once Redis confirmed the subscription. Returns the remover. */
  async subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel)
    if (!set) {
      set = new Set()
      this.handlers.set(channel, set)
    }
    const first = set.size === 0
    set.add(handler)
    if (first) await this.chain(channel, () => this.sub.subscribe(channel))
    else await this.pending.get(channel)
    let removed = false
    return async () => {
      if (removed) return
      removed = true
      const current = this.handlers.get(channel)
      current?.delete(handler)
      if (current && current.size === 0 && !this.closed) {
        this.handlers.delete(channel)
        await this.chain(channel, () => this.sub.unsubscribe(channel)).catch(() => {})
      }
    }
  }

  /** How many nodes' subscribers received it (0: nobody listens on that channel). */
  async publish(channel: string, message: string): Promise<number> {
    const bytes = Buffer.byteLength(message)
    if (bytes > MAX_MESSAGE_BYTES) {
      throw new PayloadTooLargeError(
        `a message on ${channel} is ${bytes} bytes; messages between nodes must stay under ${MAX_MESSAGE_BYTES}`,
      )
    }
    return this.pub.publish(channel, this.options.seal.seal(channel, message))
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.handlers.clear()
    await Promise.allSettled([this.pub.quit(), this.sub.quit()])
  }

  private chain(channel: string, op: () => Promise<unknown>): Promise<unknown> {
    const next = (this.pending.get(channel) ?? Promise.resolve()).catch(() => {}).then(op)
    this.pending.set(channel, next)
    return next
  }
}
