// Firmware emulators are pure objects: bytes in, bytes out, no I/O. The same
// object sits behind `sim://` in-process and behind a pty or TCP socket in
// test fixtures, so demos and tests exercise one code path.

export interface FirmwareEmulator {
  /** Bytes from the host. Output may be emitted synchronously or later (dwell, auto-report). */
  write(data: Buffer | string): void
  onOutput(listener: (data: string) => void): void
  /** Clears every timer; idempotent. */
  stop(): void
  /** Test hooks by name (`mute`, `resend`, `reset`, ...), callable from a fixture's stdin. */
  readonly hooks: Record<string, (...args: string[]) => void>
}

/** Emits output and owns the emulator's timers so stop() can clear them all. */
export class EmulatorBase {
  private readonly listeners: ((data: string) => void)[] = []
  private readonly timers = new Set<NodeJS.Timeout>()
  protected stopped = false

  onOutput(listener: (data: string) => void): void {
    this.listeners.push(listener)
  }

  protected emit(data: string): void {
    if (this.stopped) return
    for (const l of this.listeners) l(data)
  }

  protected after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t)
      if (!this.stopped) fn()
    }, ms)
    this.timers.add(t)
    return t
  }

  protected every(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setInterval(() => {
      if (!this.stopped) fn()
    }, ms)
    this.timers.add(t)
    return t
  }

  protected cancel(t: NodeJS.Timeout | null | undefined): void {
    if (!t) return
    clearTimeout(t)
    clearInterval(t)
    this.timers.delete(t)
  }

  stop(): void {
    this.stopped = true
    for (const t of this.timers) {
      clearTimeout(t)
      clearInterval(t)
    }
    this.timers.clear()
  }
}
