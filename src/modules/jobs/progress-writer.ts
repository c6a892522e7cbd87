// Throttled progress writes: a fast job (a file streamed line by line)
// reports progress far more often than the database should be written. The
// first report of a job is written at once, later ones at most once per
// interval, and the last value is always written (a trailing write).

import type { JobsRepository } from './repository.js'

interface ProgressState {
  progress: number
  details?: Record<string, unknown>
  timer: NodeJS.Timeout | null
  lastWriteMs: number
  writing: Promise<void> | null
}

export class ProgressWriter {
  private readonly states = new Map<string, ProgressState>()

  constructor(
    private readonly repository: JobsRepository,
    private readonly intervalMs: number,
    private readonly now: () => Date,
    /** Called after a write changed the job (to announce it). */
    private readonly written: (id: string) => Promise<unknown>,
  ) {}

  /** Records a report (0-100, already clamped) and schedules its write. */
  report(id: string, value: number, details?: Record<string, unknown>): void {
    let state = this.states.get(id)
    if (!state) {
      state = { progress: value, details, timer: null, lastWriteMs: Number.NEGATIVE_INFINITY, writing: null }
      this.states.set(id, state)
    }
    state.progress = value
    if (details) state.details = details
    if (state.timer) return
    const waitMs = Math.max(0, state.lastWriteMs + this.intervalMs - this.now().getTime())
    const pending = state
    state.timer = setTimeout(() => {
      pending.writing = this.write(id, pending)
    }, waitMs)
    state.timer.unref()
  }

  /**
   * The job is ending: drops its pending write and waits for one in flight
   * (it must land before the final write, not after it). Returns the last
   * reported value, which the final write carries.
   */
  async settle(id: string): Promise<number | undefined> {
    const pending = this.states.get(id)
    if (pending?.timer) clearTimeout(pending.timer)
    this.states.delete(id)
    await pending?.writing
    return pending?.progress
  }

  /** Drops every pending write; returns the writes in flight, to wait for. */
  stop(): Promise<void>[] {
    const writes: Promise<void>[] = []
    for (const state of this.states.values()) {
      if (state.timer) clearTimeout(state.timer)
      state.timer = null
      if (state.writing) writes.push(state.writing)
    }
    this.states.clear()
    return writes
  }

  private async write(id: string, state: ProgressState): Promise<void> {
    state.timer = null
    state.lastWriteMs = this.now().getTime()
    try {
      const written = await this.repository.updateProgress(id, state.progress, state.details, this.now())
      if (written) await this.written(id)
      else this.states.delete(id)
    } catch {
      // The next report, or the job's end, writes the value again.
    } finally {
      state.writing = null
    }
  }
}
