// Periodic housekeeping passes over the database (retention of run history,
// sessions, revoked tokens, audit rows): one pass now, then one every
// interval, never two at once, and a stop that waits for the pass in progress.
// Deletes go in batches with a turn of the event loop after each statement: on
// SQLite each statement runs synchronously, and a long walk back to back would
// hold up requests and timers (scheduler firings).

import { setImmediate as nextTurn } from 'node:timers/promises'

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
