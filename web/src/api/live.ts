// The one live-feed helper: a WebSocket to one of the server's /ws feeds that
// reconnects by itself. Every feed sends the same envelope {type, ts,
// payload, <subject id>} and starts with the current state (a snapshot or a
// status), so after a reconnect a consumer simply replaces what it had.
//
// While a feed is down its state is 'reconnecting' — shown in the page header
// (LiveStatus) and next to the view that depends on it — never a silent stall.

import { useEffect, useRef, useState, useSyncExternalStore } from 'react'

export type FeedState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface Envelope {
  type: string
  ts: string
  payload: unknown
  [subject: string]: unknown
}

const FIRST_RETRY_MS = 500
const MAX_RETRY_MS = 10_000
/** Close codes after which retrying cannot help: the subject is gone (e.g. the agent was deleted). */
const FINAL_CLOSE_CODES = new Set([1000, 4404])

export interface FeedOptions {
  onMessage(message: Envelope): void
  /** Called on every (re)connect before its first message: the feed starts over with its current state. */
  onOpen?(): void
  onState?(state: FeedState, reason?: string): void
}

export class LiveFeed {
  private socket: WebSocket | null = null
  private timer: ReturnType<typeof setTimeout> | null = null
  private retryMs = FIRST_RETRY_MS
  private stopped = false
  state: FeedState = 'connecting'

  constructor(
    readonly path: string,
    private readonly options: FeedOptions,
  ) {}

  start(): void {
    this.stopped = false
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const socket = this.socket
    this.socket = null
    if (socket) {
      socket.onclose = null
      socket.onmessage = null
      socket.onerror = null
      socket.close(1000)
    }
    this.setState('closed')
  }

  private setState(state: FeedState, reason?: string): void {
    this.state = state
    this.options.onState?.(state, reason)
  }

  private connect(): void {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
    // Same origin: the browser sends the session cookie and its Origin with the upgrade.
    const socket = new WebSocket(`${scheme}//${location.host}${this.path}`)
    this.socket = socket
    socket.onopen = () => {
      this.retryMs = FIRST_RETRY_MS
      this.options.onOpen?.()
      this.setState('open')
    }
    socket.onmessage = (event) => {
      try {
        this.options.onMessage(JSON.parse(String(event.data)) as Envelope)
      } catch {
        // A frame that is not JSON is not ours to show.
      }
    }
    socket.onclose = (event) => {
      this.socket = null
      if (this.stopped) return
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.setState('closed', event.reason || undefined)
        return
      }
      this.setState('reconnecting')
      // Jittered doubling, so many consoles do not all come back in the same instant.
      const delay = this.retryMs * (0.75 + Math.random() * 0.5)
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS)
      this.timer = setTimeout(() => {
        this.timer = null
        if (!this.stopped) this.connect()
      }, delay)
    }
  }
}

// ---- which feeds are down, for the header's indicator ----

const feedStates = new Map<LiveFeed, FeedState>()
const watchers = new Set<() => void>()
let reconnectingCount = 0

function track(feed: LiveFeed, state: FeedState | null): void {
  if (state === null || state === 'closed') feedStates.delete(feed)
  else feedStates.set(feed, state)
  const count = [...feedStates.values()].filter((s) => s === 'reconnecting').length
  if (count !== reconnectingCount) {
    reconnectingCount = count
    for (const w of watchers) w()
  }
}

/** How many live feeds are reconnecting right now (0 when all are up). */
export function useReconnectingFeeds(): number {
  return useSyncExternalStore(
    (notify) => {
      watchers.add(notify)
      return () => watchers.delete(notify)
    },
    () => reconnectingCount,
  )
}

/**
 * Keeps a feed open while the component is mounted (path null: none) and
 * returns its state. `onMessage` may change between renders; the latest one is called.
 */
export function useLiveFeed(
  path: string | null,
  onMessage: (message: Envelope) => void,
  onOpen?: () => void,
): FeedState {
  const [state, setState] = useState<FeedState>('connecting')
  const handler = useRef(onMessage)
  handler.current = onMessage
  const opened = useRef(onOpen)
  opened.current = onOpen
  useEffect(() => {
    if (!path) return
    setState('connecting')
    const feed: LiveFeed = new LiveFeed(path, {
      onMessage: (m) => handler.current(m),
      onOpen: () => opened.current?.(),
      onState: (s) => {
        setState(s)
        track(feed, s)
      },
    })
    track(feed, 'connecting')
    feed.start()
    return () => {
      feed.stop()
      track(feed, null)
    }
  }, [path])
  return state
}
