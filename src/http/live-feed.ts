// The plumbing of a live feed about one resource (an agent's logs, a device's telemetry):
// access is checked when the socket opens and again whenever the caller's role changes,
// an unknown or another owner's resource closes the socket with 4404 (the same answer for
// both, as the REST routes' 404), and every subscription ends with the socket.

import type { FastifyRequest } from 'fastify'
import { ClientQueue, type ClientQueueOptions, type SocketLike } from '../realtime/client-queue.js'
import { onPrincipalChange } from './auth-hook.js'

/** The few methods of a `ws` WebSocket a feed uses beyond the queue's. */
export interface FeedSocket extends SocketLike {
  on(event: 'close', listener: () => void): unknown
  close(code: number, reason: string): void
}

export interface LiveFeed {
  readonly queue: ClientQueue
  /** Whether the socket is still open: asked again after every await. */
  isOpen(): boolean
  /** Unsubscribes these when the socket closes (at once if it already has). */
  track(...offs: (() => void)[]): void
}

export interface LiveFeedOptions<T> {
  /** What the feed is about, for the close reason (`agent not found`). */
  noun: string
  queue?: ClientQueueOptions
  /** Reads the resource as the caller may see it; a 404 closes the feed with 4404. */
  load: () => Promise<T>
  /** Sends the first messages and subscribes; runs once, while the socket is open. */
  start: (resource: T, feed: LiveFeed) => void | Promise<void>
}

const OPEN = 1

export function openLiveFeed<T>(
  socket: FeedSocket,
  request: FastifyRequest,
  options: LiveFeedOptions<T>,
): void {
  const queue = new ClientQueue(socket, options.queue)
  const offs: (() => void)[] = []
  let closed = false
  const feed: LiveFeed = {
    queue,
    isOpen: () => socket.readyState === OPEN,
    track: (...more) => {
      if (closed) for (const off of more) off()
      else offs.push(...more)
    },
  }
  socket.on('close', () => {
    closed = true
    for (const off of offs.splice(0)) off()
    queue.close()
  })
  const refuse = (err: { status?: number }) => {
    socket.close(
      err.status === 404 ? 4404 : 1011,
      err.status === 404 ? `${options.noun} not found` : 'internal error',
    )
  }
  // Access was checked at open; when the caller's role changes (an admin demoted
  // while watching another user's resource), check it again.
  feed.track(onPrincipalChange(request, () => void options.load().catch(refuse)))
  options
    .load()
    .then(async (resource) => {
      if (feed.isOpen()) await options.start(resource, feed)
    })
    .catch(refuse)
}
