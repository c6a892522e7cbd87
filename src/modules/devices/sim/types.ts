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

/** Marlin's checksum: XOR of every byte before the `*`. */
export function marlinChecksum(text: string): number {
  let cs = 0
  for (let i = 0; i < text.length; i++) cs ^= text.charCodeAt(i) & 0xff
  return cs
}

/** G-code words (`X10.5`) as a map; `null` when the line has leftovers that are not words. */
export function gcodeWords(line: string): Map<string, number> | null {
  const words = new Map<string, number>()
  const rest = line.replace(/([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))/gi, (_, letter: string, value: string) => {
    const key = letter.toUpperCase()
    if (!words.has(key)) words.set(key, Number(value))
    return ''
  })
  return rest.trim() === '' ? words : null
}
