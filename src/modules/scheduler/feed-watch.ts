// The engine's view of the database's change feed (src/db/change-feed.ts):
// another process's commit wakes it. Without a feed (it could not open, or
// was lost) the engine polls every maxSleepMs and opens it again every
// FEED_RETRY_MS.

import type { ChangeWatch, WatchChanges } from '../../db/change-feed.js'
import type { Logger } from '../../logger.js'

/** The feed of a database no other process can reach (SQLite in memory): there is nothing to watch or poll for. */
const NOTHING_TO_WATCH: ChangeWatch = { close: async () => {} }
/** After the change feed is lost, how long until it is opened again. */
const FEED_RETRY_MS = 30_000

export class FeedWatch {
  private feed: ChangeWatch | null = null
  private lastAttemptMs = Number.NEGATIVE_INFINITY
  private closed = false

  constructor(
    private readonly watch: WatchChanges | undefined,
    private readonly logger: Logger,
    private readonly on: { change: () => void; lost: () => void },
  ) {}

  /** Whether other processes' commits reach the engine now. */
  get open(): boolean {
    return this.feed !== null
  }

  /** A feed to open again: none now, and the last try long enough ago. */
  get retryDue(): boolean {
    return !this.feed && this.watch !== undefined && Date.now() - this.lastAttemptMs >= FEED_RETRY_MS
  }

  /** Opens the feed; on failure the engine polls every maxSleepMs and tries again later. */
  async openFeed(): Promise<void> {
    const watch = this.watch
    if (!watch || this.feed || this.closed) return
    this.lastAttemptMs = Date.now()
    try {
      const feed = await watch({
        onChange: () => this.on.change(),
        onLost: (err) => {
          this.feed = null
          if (this.closed) return
          this.logger.warn({ err }, 'scheduler: lost the database change feed; polling until it is back')
          this.on.lost()
        },
      })
      if (this.closed) await feed?.close()
      else this.feed = feed ?? NOTHING_TO_WATCH
    } catch (err) {
      this.logger.warn({ err }, "scheduler: no database change feed; polling for other processes' edits")
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const feed = this.feed
    this.feed = null
    await feed?.close()
  }
}
