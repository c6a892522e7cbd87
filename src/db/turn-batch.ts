// Writes made in one turn of the event loop, written together.
//
// A busy second (100 scheduled firings, each with a run row and a jobs-ledger
// entry) makes the same small write a hundred times in the same turn. Each as
// its own statement costs a statement build, a prepare and (autocommit) a
// commit; together they cost one of each. Callers keep their own promise and
// their own answer. When the shared statement fails, each item is retried on
// its own, so one bad row (say a foreign key) fails only its own caller.

export type BatchWriter<T, R> = (items: T[]) => Promise<R[]>

export class TurnBatch<T, R> {
  private queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> | null = null

  /**
   * `writeMany` answers per item, in order; `maxBatch` bounds one statement
   * (bound parameters stay under both engines' limits).
   */
  constructor(
    private readonly writeMany: BatchWriter<T, R>,
    private readonly maxBatch = 200,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (!this.queue) {
        this.queue = []
        setImmediate(() => void this.flush())
      }
      this.queue.push({ item, resolve, reject })
    })
  }

  private async flush(): Promise<void> {
    const queue = this.queue ?? []
    this.queue = null
    for (let i = 0; i < queue.length; i += this.maxBatch) {
      const chunk = queue.slice(i, i + this.maxBatch)
      try {
        const results = await this.writeMany(chunk.map((q) => q.item))
        for (const [k, q] of chunk.entries()) q.resolve(results[k] as R)
      } catch (err) {
        if (chunk.length === 1) {
          chunk[0]!.reject(err)
          continue
        }
        for (const q of chunk) {
          try {
            q.resolve((await this.writeMany([q.item]))[0] as R)
          } catch (one) {
            q.reject(one)
          }
        }
      }
    }
  }
}
