// The last N output lines of one agent, in memory, for `/logs?tail=N`.

import type { OutputStream } from './runtimes/types.js'

export interface LogEntry {
  /** Increases by one per line for the agent's life in this server; lets a reader resume. */
  seq: number
  stream: OutputStream
  line: string
  ts: Date
}

export class LogRing {
  private readonly items: (LogEntry | undefined)[]
  private next = 0
  private size = 0
  private seq = 0

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be >= 1, got ${capacity}`)
    this.items = new Array(capacity)
  }

  push(stream: OutputStream, line: string, ts = new Date()): LogEntry {
    const entry: LogEntry = { seq: ++this.seq, stream, line, ts }
    this.items[this.next] = entry
    this.next = (this.next + 1) % this.capacity
    if (this.size < this.capacity) this.size++
    return entry
  }

  /** The newest `n` lines (all when omitted), oldest first. */
  tail(n = this.size): LogEntry[] {
    const count = Math.max(0, Math.min(Math.floor(n), this.size))
    const out: LogEntry[] = []
    for (let i = count; i > 0; i--) {
      out.push(this.items[(this.next - i + this.capacity) % this.capacity]!)
    }
    return out
  }

  get length(): number {
    return this.size
  }

  clear(): void {
    this.items.fill(undefined)
    this.next = 0
    this.size = 0
  }
}
