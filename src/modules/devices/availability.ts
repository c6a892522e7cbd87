// Whether a connected device still talks: with `availabilityTimeoutMs` set, a
// link that has carried no inbound bytes for that long counts as offline
// (stale) until the next byte. Devices report at up to tens of Hz, so hearing
// a byte only stores a number; the one timer per device is re-armed when it
// fires, for the time left since the last byte, rather than on every byte.

export class AvailabilityWatch {
  private lastHeardAt = 0
  private timer: NodeJS.Timeout | null = null
  /** Between start() and stop(): a fired (disarmed) watch is still started. */
  private isStarted = false

  /** `silent` is called once per silence, when the timeout passed without a byte. */
  constructor(
    private readonly timeoutMs: number,
    private readonly silent: (silentForMs: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts (or restarts) watching from now; a no-op when the timeout is 0 (off). */
  start(): void {
    if (this.timeoutMs <= 0) return
    this.lastHeardAt = this.now()
    this.arm(this.timeoutMs)
  }

  /** Inbound bytes: the silence (if any) is over; a watch that had fired watches again. */
  heard(): void {
    this.lastHeardAt = this.now()
    if (this.timeoutMs > 0 && this.timer === null && this.isStarted) this.arm(this.timeoutMs)
  }

  stop(): void {
    this.isStarted = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private arm(ms: number): void {
    this.isStarted = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.check(), ms)
    // A device's watch never keeps the process alive on its own.
    this.timer.unref()
  }

  private check(): void {
    this.timer = null
    const silentFor = this.now() - this.lastHeardAt
    if (silentFor >= this.timeoutMs) {
      // Stays disarmed until the next byte (heard() arms it again).
      this.silent(silentFor)
      return
    }
    this.arm(this.timeoutMs - silentFor)
  }
}
