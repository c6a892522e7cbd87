// Whether a device's link is meant to be open, and getting it open again when
// it is not: the first open the operator asks for, and after an unexpected
// drop (or a failed open after a server restart) retries with the shared
// backoff (src/backoff.ts), no jitter: one device retrying alone gains nothing
// from it, and the documented delays stay exact. Retries keep the status as it
// is: a drop is reported when it happens and when the device returns, not
// once per attempt.

import { backoffDelayMs } from '../../backoff.js'
import type { ResolvedConfiguration } from './configuration.js'

/** What the reconnector drives: the link's open, and whether it is open. */
export interface ReopenableLink {
  readonly isOpen: boolean
  open(): Promise<void>
  /** After a retry opened the link. */
  reopened(): void
}

type Policy = Pick<ResolvedConfiguration, 'autoReconnect' | 'reconnectDelayMs' | 'reconnectMaxDelayMs'>

export class Reconnector {
  private isWanted = false
  private pending: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  /** Retries since the link was last open; drives the backoff. */
  private retries = 0

  constructor(
    private readonly link: ReopenableLink,
    private readonly policy: Policy,
  ) {}

  /** Whether the operator (or a restart) asked for the link to be open. */
  get wanted(): boolean {
    return this.isWanted
  }

  /** The open in progress, if any. */
  get connecting(): Promise<void> | null {
    return this.pending
  }

  want(): void {
    this.isWanted = true
  }

  /**
   * Opens now. `failed` hears a failure before anything else happens; with
   * `keepTrying` (reopening after a server restart) the failure schedules
   * retries, otherwise the link is no longer wanted.
   */
  open(keepTrying: boolean, failed: (err: Error) => void): Promise<void> {
    this.cancelRetry()
    this.pending = this.link
      .open()
      .then(() => {
        this.retries = 0
      })
      .catch((err: Error) => {
        failed(err)
        if (keepTrying && this.isWanted && this.policy.autoReconnect) this.scheduleRetry()
        else this.isWanted = false
        throw err
      })
      .finally(() => {
        this.pending = null
      })
    return this.pending
  }

  /** The link dropped by itself; answers whether it will be reopened. */
  dropped(): boolean {
    const retrying = this.isWanted && this.policy.autoReconnect
    if (retrying) this.scheduleRetry()
    else this.isWanted = false
    return retrying
  }

  /** Not wanted any more: no retry from now on. Answers the open in progress, if any. */
  stop(): Promise<void> | null {
    this.isWanted = false
    this.cancelRetry()
    return this.pending
  }

  private scheduleRetry(): void {
    this.cancelRetry()
    const delay = backoffDelayMs(this.retries++, {
      initialMs: this.policy.reconnectDelayMs,
      maxMs: this.policy.reconnectMaxDelayMs,
      jitter: 0,
    })
    this.timer = setTimeout(() => {
      this.timer = null
      if (!this.isWanted || this.link.isOpen || this.pending) return
      this.pending = this.link
        .open()
        .then(() => {
          this.retries = 0
          this.link.reopened()
        })
        .catch(() => {
          if (this.isWanted) this.scheduleRetry()
        })
        .finally(() => {
          this.pending = null
        })
    }, delay)
  }

  private cancelRetry(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
