// A job's log text: appends run one after another per job so none overwrites
// another, and the text is kept to the newest maxLogBytes.

import { NotFoundError } from '../../errors.js'
import type { JobsRepository } from './repository.js'

const TRUNCATED = '[... earlier log lines truncated ...]\n'

export class LogWriter {
  private readonly chains = new Map<string, Promise<void>>()

  constructor(
    private readonly repository: JobsRepository,
    private readonly maxLogBytes: number,
    private readonly now: () => Date,
  ) {}

  /** Appends text to the job's logs, keeping the newest maxLogBytes. */
  append(id: string, text: string): Promise<void> {
    const previous = this.chains.get(id) ?? Promise.resolve()
    const next = previous.then(async () => {
      const job = await this.repository.get(id)
      if (!job) throw new NotFoundError('job', id)
      const logs = this.cap((job.logs ?? '') + text + (text.endsWith('\n') ? '' : '\n'))
      await this.repository.setLogs(id, logs, this.now())
    })
    const settled = next.catch(() => {})
    this.chains.set(id, settled)
    void settled.then(() => {
      if (this.chains.get(id) === settled) this.chains.delete(id)
    })
    return next
  }

  /** Waits for the job's appends in flight (before a write that replaces the log). */
  async settle(id: string): Promise<void> {
    await this.chains.get(id)
  }

  /** The appends in flight, to wait for at a stop. */
  inFlight(): Promise<void>[] {
    return [...this.chains.values()]
  }

  /** Keeps the newest maxLogBytes of a log, from a line boundary, behind a marker. */
  cap(logs: string): string {
    if (Buffer.byteLength(logs) <= this.maxLogBytes) return logs
    const tail = Buffer.from(logs)
      .subarray(-(this.maxLogBytes - TRUNCATED.length))
      .toString()
    // Start at a line boundary so no half line (or half character) survives.
    return TRUNCATED + tail.slice(tail.indexOf('\n') + 1)
  }
}
