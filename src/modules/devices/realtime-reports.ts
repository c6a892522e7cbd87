// Real-time commands (GRBL `?` `!` `~` Ctrl-X) bypass the queue and get no
// `ok`. A query (`?`) is answered by the next report line instead; this holds
// the queries waiting for one, each with its own timeout.

import { DeviceTimeoutError } from './errors.js'

interface ReportWaiter {
  resolve(line: string): void
  reject(err: Error): void
  timer: NodeJS.Timeout
}

export class RealtimeReports {
  private readonly waiters = new Set<ReportWaiter>()

  constructor(private readonly label: string) {}

  /** The next report line, or a DeviceTimeoutError naming `text` after `timeoutMs`. */
  next(text: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const waiter: ReportWaiter = {
        resolve: (line) => {
          clearTimeout(waiter.timer)
          this.waiters.delete(waiter)
          resolve(line)
        },
        reject: (err) => {
          clearTimeout(waiter.timer)
          this.waiters.delete(waiter)
          reject(err)
        },
        timer: setTimeout(() => {
          this.waiters.delete(waiter)
          reject(new DeviceTimeoutError(this.label, text, timeoutMs))
        }, timeoutMs),
      }
      this.waiters.add(waiter)
    })
  }

  /** A report line arrived: it answers every query waiting. */
  answer(line: string): void {
    for (const waiter of this.waiters) waiter.resolve(line)
  }

  /** A query waiting for its report must fail with the link, not wait forever. */
  rejectAll(reason: Error): void {
    for (const waiter of [...this.waiters]) waiter.reject(reason)
    this.waiters.clear()
  }
}
