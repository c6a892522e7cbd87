// Counts failed logins per username+address and per address; past the limit
// within the window, further attempts answer 429 until the oldest failure ages out.

import { TooManyRequestsError } from '../errors.js'

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>()
  private failuresSinceSweep = 0

  constructor(
    private readonly maxAttempts: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private keys(username: string, ip: string): [userKey: string, ipKey: string] {
    // The per-address key has a higher ceiling so one host cannot spray usernames.
    return [`u:${username.toLowerCase()}|${ip}`, `ip:${ip}`]
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.windowMs
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff)
    if (list.length === 0) this.failures.delete(key)
    else this.failures.set(key, list)
    return list
  }

  /** Throws 429 when the caller is over the limit. */
  check(username: string, ip: string): void {
    const [userKey, ipKey] = this.keys(username, ip)
    const limits: [string, number][] = [
      [userKey, this.maxAttempts],
      [ipKey, this.maxAttempts * 4],
    ]
    for (const [key, limit] of limits) {
      const list = this.recent(key)
      const oldest = list[0]
      // An empty list is under any limit (MYNTRIX_LOGIN_MAX_ATTEMPTS is at least 1).
      if (oldest !== undefined && list.length >= limit) {
        const retryAfterMs = oldest + this.windowMs - this.now()
        const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000))
        throw new TooManyRequestsError(`too many failed logins; try again in ${seconds} s`, seconds)
      }
    }
  }

  fail(username: string, ip: string): void {
    // Keys are otherwise pruned only when checked again: sweep now and then so
    // failures spread over many names or addresses cannot grow the map forever.
    if (++this.failuresSinceSweep >= 1000) {
      this.failuresSinceSweep = 0
      for (const key of [...this.failures.keys()]) this.recent(key)
    }
    for (const key of this.keys(username, ip)) {
      const list = this.recent(key)
      list.push(this.now())
      this.failures.set(key, list)
    }
  }

  /** Keys currently tracked (for tests and metrics). */
  get size(): number {
    return this.failures.size
  }

  succeed(username: string, ip: string): void {
    const [userKey] = this.keys(username, ip)
    this.failures.delete(userKey)
  }
}
