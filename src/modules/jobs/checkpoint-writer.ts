// A job's checkpoint writes: one at a time per job, and while one is in flight
// only the newest waiting checkpoint is kept, so a fast job never queues a
// write per line and a slow database never sees an older checkpoint after a
// newer one.

import type { JobsRepository } from './repository.js'

export class CheckpointWriter {
  private readonly inFlightWrites = new Map<string, Promise<void>>()
  private readonly waiting = new Map<string, Record<string, unknown>>()

  constructor(
    private readonly repository: JobsRepository,
    private readonly now: () => Date,
    private readonly onError: (id: string, error: unknown) => void,
  ) {}

  save(id: string, checkpoint: Record<string, unknown>): void {
    this.waiting.set(id, checkpoint)
    if (!this.inFlightWrites.has(id)) this.inFlightWrites.set(id, this.drain(id))
  }

  private async drain(id: string): Promise<void> {
    // Written after the I/O callbacks of this turn: a streamer that saves on
    // an acknowledgement sends its next line first, so the (synchronous, on
    // SQLite) write overlaps the line's trip instead of delaying it.
    await new Promise<void>((resolve) => setImmediate(resolve))
    try {
      for (let next = this.waiting.get(id); next; next = this.waiting.get(id)) {
        this.waiting.delete(id)
        try {
          await this.repository.saveCheckpoint(id, next, this.now())
        } catch (error) {
          this.onError(id, error)
        }
      }
    } finally {
      this.inFlightWrites.delete(id)
    }
  }

  /** Waits for the job's write in flight; a waiting one is dropped (the final write carries its own). */
  async settle(id: string): Promise<void> {
    this.waiting.delete(id)
    await this.inFlightWrites.get(id)
  }

  inFlight(): Promise<void>[] {
    return [...this.inFlightWrites.values()]
  }
}
