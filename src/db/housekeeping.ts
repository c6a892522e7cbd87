// Periodic housekeeping passes over the database (retention of run history,
// sessions, revoked tokens, audit rows): one pass now, then one every
// interval, never two at once, and a stop that waits for the pass in progress.
// Deletes go in batches with a turn of the event loop after each statement: on
// SQLite each statement runs synchronously, and a long walk back to back would
// hold up requests and timers (scheduler firings).

import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Logger } from '../logger.js'

export class PeriodicPass {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<unknown> | null = null
  private stoppedFlag = false

  /** `pass` handles its own errors and logging; a rejection is ignored. */
  constructor(
    private readonly pass: () => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  /** True once stop() was called: a pass in progress ends at its next batch boundary. */
  get stopped(): boolean {
    return this.stoppedFlag
  }

  /** Runs a pass now, then every intervalMs. */
  start(): void {
    if (this.timer || this.stoppedFlag) return
    const tick = () => {
      if (this.running) return
      this.running = this.pass()
        .catch(() => {})
        .finally(() => {
          this.running = null
        })
    }
    tick()
    this.timer = setInterval(tick, this.intervalMs)
    this.timer.unref()
  }

  /** Idempotent; waits for a pass in progress to reach its next batch boundary. */
  async stop(): Promise<void> {
    this.stoppedFlag = true
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.running
  }
}

export interface RetentionOptions {
  logger: Logger
  /** Default hourly. */
  intervalMs?: number
  /** Rows per delete statement; default 500. */
  batch?: number
}

/**
 * A retention: `prune()` once now and then every interval, its counts logged
 * when anything went and its failure logged, never thrown. A subclass says what
 * one pass deletes, in batches of `batch` until `periodic.stopped`.
 */
export abstract class RetentionPass<Counts extends Record<string, number>> {
  protected readonly batch: number
  protected readonly periodic: PeriodicPass

  constructor(options: RetentionOptions, log: { pruned: string; failed: string }) {
    this.batch = options.batch ?? 500
    this.periodic = new PeriodicPass(async () => {
      try {
        const counts = await this.prune()
        if (Object.values(counts).some((n) => n > 0)) options.logger.info(counts, log.pruned)
      } catch (err) {
        options.logger.error({ err }, log.failed)
      }
    }, options.intervalMs ?? 3_600_000)
  }

  /** One full pass; returns how many rows of each kind went. */
  abstract prune(): Promise<Counts>

  /** Prunes now, then every intervalMs. */
  start(): void {
    this.periodic.start()
  }

  /** Idempotent; waits for a prune in progress to reach its next batch boundary. */
  async stop(): Promise<void> {
    await this.periodic.stop()
  }
}

/**
 * Calls `step(batch)` (one delete of at most `batch` rows, returning how many
 * went) until it deletes fewer than a batch or `isStopped()`, with a turn of
 * the event loop after each; returns the total.
 */
export async function drainBatches(
  step: (limit: number) => Promise<number>,
  batch: number,
  isStopped: () => boolean,
): Promise<number> {
  let total = 0
  while (!isStopped()) {
    const n = await step(batch)
    total += n
    await nextTurn()
    if (n < batch) break
  }
  return total
}
