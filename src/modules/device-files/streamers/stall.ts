// A stream that stopped moving: lines outstanding and, for stallTimeoutMs,
// no acknowledgement and no status saying the machine is busy. The first such
// wait asks the firmware (a status query) and reports the stall; a second one
// in a row ends the transfer. Anything that shows progress starts over, so a
// long move (GRBL reporting `Run`) is never taken for a stall.

export class StallWatch {
  private timer: NodeJS.Timeout | null = null
  private hasAsked = false

  constructor(
    private readonly timeoutMs: number,
    /** The first wait ran out: query the firmware and report it. */
    private readonly onQuiet: () => void,
    /** The second wait ran out too. */
    private readonly onStalled: () => void,
  ) {}

  /** Progress (an acknowledgement, a busy status) with lines still outstanding: wait afresh. */
  progressed(): void {
    this.hasAsked = false
    this.arm()
  }

  /** Nothing outstanding: nothing can stall. */
  idle(): void {
    this.hasAsked = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  /** Lines went out: start waiting unless a wait is already running. */
  sent(): void {
    if (this.timer === null) this.arm()
  }

  private arm(): void {
    // Progress comes with every acknowledged line: restarting the running
    // timer is cheaper than a new one each time.
    if (this.timer) {
      this.timer.refresh()
      return
    }
    this.timer = setTimeout(() => this.ranOut(), this.timeoutMs)
  }

  private ranOut(): void {
    this.timer = null
    if (this.hasAsked) {
      this.onStalled()
      return
    }
    this.hasAsked = true
    this.onQuiet()
    this.arm()
  }
}
