// Retry timing shared by everything that reopens after a failure: agents
// restarting after a crash, devices reconnecting after a drop. The delay
// doubles from initialMs up to maxMs, with optional jitter so that many
// retries failing on a shared cause (a database restart, a USB hub reset) do
// not all come back in the same tick.

export interface BackoffOptions {
  initialMs: number
  maxMs: number
  /** Uptime after which a process counts as stable and the sequence starts over (agents). */
  stableMs: number
  /** 0.2 spreads each delay over +-20 %; 0 gives the plain doubling. */
  jitter: number
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 500,
  maxMs: 30_000,
  stableMs: 60_000,
  jitter: 0.2,
}

/** Delay before retry number `attempt` (0-based): initialMs, then doubling, capped at maxMs. */
export function backoffDelayMs(
  attempt: number,
  options: Pick<BackoffOptions, 'initialMs' | 'maxMs' | 'jitter'>,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30))
  if (options.jitter === 0) return base
  const factor = 1 - options.jitter + 2 * options.jitter * random()
  return Math.max(0, Math.min(options.maxMs, Math.round(base * factor)))
}

/**
 * Delay before the restart that follows the `consecutive`-th crash in a row
 * (1-based). The first restart is at once: most crashes are one-off.
 */
export function restartDelayMs(consecutive: number, options: BackoffOptions, random: () => number): number {
  if (consecutive <= 1) return 0
  return backoffDelayMs(consecutive - 2, options, random)
}

/** Restarts inside a sliding window: more than `max` of them is a crash loop. */
export class RestartWindow {
  private times: number[] = []

  /** Records a restart at `now` unless that would exceed `max` inside `windowMs`. */
  tryRecord(now: number, max: number, windowMs: number): boolean {
    this.prune(now, windowMs)
    if (this.times.length >= max) return false
    this.times.push(now)
    return true
  }

  count(now: number, windowMs: number): number {
    this.prune(now, windowMs)
    return this.times.length
  }

  clear(): void {
    this.times = []
  }

  private prune(now: number, windowMs: number): void {
    // times is in record order, so the expired ones are a prefix.
    const firstKept = this.times.findIndex((t) => now - t < windowMs)
    this.times = firstKept === -1 ? [] : this.times.slice(firstKept)
  }
}
