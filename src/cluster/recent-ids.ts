// The ids seen within a span of time, for refusing a replayed message: each id
// is remembered for at least `spanMs` (and at most twice that), in two
// generations that rotate, so memory follows the rate of messages, not uptime.
// Timed on the monotonic clock: a step of the wall clock must not forget them.

export class RecentIds {
  private current = new Set<string>()
  private previous = new Set<string>()
  private rotatedAt: number

  constructor(
    private readonly spanMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.rotatedAt = now()
  }

  /** True the first time `id` is offered within the span; false for a repeat. */
  firstSeen(id: string): boolean {
    const now = this.now()
    if (now - this.rotatedAt >= this.spanMs) {
      // Two spans without a message: both generations are older than the span.
      this.previous = now - this.rotatedAt >= 2 * this.spanMs ? new Set() : this.current
      this.current = new Set()
      this.rotatedAt = now
    }
    if (this.current.has(id) || this.previous.has(id)) return false
    this.current.add(id)
    return true
  }
}
