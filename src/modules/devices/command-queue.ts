// The connection's command queue: one piece of work at a time, in order, so
// the bytes of two commands never interleave on the wire and each reply can
// be paired with its command. A file stream holds the queue for its whole run
// (DeviceConnection.exclusive) and lets what queued up behind it through
// between two lines (runQueued).

interface QueueItem {
  run(): Promise<unknown>
  resolve(value: unknown): void
  reject(err: Error): void
}

export class CommandQueue {
  private readonly items: QueueItem[] = []
  private isRunning = false

  /** Work waiting behind the one running. */
  get length(): number {
    return this.items.length
  }

  /** Runs `work` when everything queued before it is done; settles as it does. */
  enqueue<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.items.push({ run: work, resolve: resolve as (v: unknown) => void, reject })
      this.next()
    })
  }

  /** Runs what is waiting now, in order, from inside the work that holds the queue. */
  async runQueued(): Promise<void> {
    for (const item of this.items.splice(0)) await item.run().then(item.resolve, item.reject)
  }

  /** Rejects everything waiting (the link closed); the work running settles by itself. */
  rejectAll(reason: Error): void {
    for (const item of this.items.splice(0)) item.reject(reason)
  }

  private next(): void {
    if (this.isRunning) return
    const item = this.items.shift()
    if (!item) return
    this.isRunning = true
    item
      .run()
      .then(item.resolve, item.reject)
      .finally(() => {
        this.isRunning = false
        this.next()
      })
  }
}
