// Counts failed logins per username+address and per address; past the limit
// within the window, further attempts answer 429 until the oldest failure ages out.

import { TooManyRequestsError } from '../errors.js'

/**
 * What the login routes need of a limiter. Async because the cluster's limiter
 * (redis-login-limiter.ts) counts in Redis; the in-memory one answers at once.
 */
export interface LoginLimit {
  /** Rejects (or throws) 429 when the caller is over the limit. */
  check(username: string, ip: string): void | Promise<void>
  fail(username: string, ip: string): void | Promise<void>
  /** Forgets the username+address failures (the per-address count stays). */
  succeed(username: string, ip: string): void | Promise<void>
}

/** Seconds until the oldest failure in the window ages out: the Retry-After of a 429. */
export function tooManyFailures(oldestMs: number, windowMs: number, nowMs: number): TooManyRequestsError {
  const seconds = Math.max(1, Math.ceil((oldestMs + windowMs - nowMs) / 1000))
  return new TooManyRequestsError(`too many failed logins; try again in ${seconds} s`, seconds)
}

/** The two counters of a login: username+address, and the address alone (with a 4x higher ceiling). */
export function loginKeys(
  username: string,
  ip: string,
  maxAttempts: number,
): [user: [string, number], address: [string, number]] {
  // The per-address key has a higher ceiling so one host cannot spray usernames.
  return [
    [`u:${username.toLowerCase()}|${ip}`, maxAttempts],
    [`ip:${ip}`, maxAttempts * 4],
  ]
}

/** One instance's count, in memory: the default, and the cluster limiter's fallback while Redis is away. */
export class LoginLimiter implements LoginLimit {
  private readonly failures = new Map<string, number[]>()
  private failuresSinceSweep = 0

  constructor(
    private readonly maxAttempts: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private keys(username: string, ip: string): string[] {
    return loginKeys(username, ip, this.maxAttempts).map(([key]) => key)
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
    for (const [key, limit] of loginKeys(username, ip, this.maxAttempts)) {
      const list = this.recent(key)
      const oldest = list[0]
      // An empty list is under any limit (MYNTRIX_LOGIN_MAX_ATTEMPTS is at least 1).
      if (oldest !== undefined && list.length >= limit)
        throw tooManyFailures(oldest, this.windowMs, this.now())
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
    const [[userKey]] = loginKeys(username, ip, this.maxAttempts)
    this.failures.delete(userKey)
  }
}
