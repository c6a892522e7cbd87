// The login limit of a cluster: failed logins counted in Redis, so failures
// spread over several nodes behind a load balancer add up to one count. Each
// key is a sorted set of failure times (score = Redis's own clock, so nodes
// with skewed clocks agree); a Lua script ages out, counts and adds in one
// atomic step, and every key expires with the window, so nothing is left behind.
//
// When Redis does not answer (down, or slower than `timeoutMs`), the node falls
// back to its own in-memory count, which it keeps beside Redis at all times,
// and logs one warning per outage. An operator gets neither failure mode he
// would fear: a Redis outage does not lock everyone out (fail closed), and the
// limit does not vanish (fail open); it only becomes per node until Redis is
// back, as it was before scale-out (docs/SECURITY.md).

import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from '../logger.js'
import { type LoginLimit, type LoginLimiter, loginKeys, tooManyFailures } from './login-limiter.js'

const KEY_PREFIX = 'myx:login:'

// Redis's clock in ms; the first line of both scripts.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])`

/** KEYS: the counters; ARGV: window ms. Returns now, then count and oldest score per key. */
const CHECK = `${NOW}
local out = { now }
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  out[#out + 1] = redis.call('ZCARD', key)
  out[#out + 1] = oldest[2] or '0'
end
return out`

/** KEYS: the counters; ARGV: window ms, a member unique to this failure. */
const FAIL = `${NOW}
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, window)
end
return 1`

export interface RedisLoginLimiterOptions {
  /** A command connection (not one in subscriber mode). */
  redis: Redis
  maxAttempts: number
  windowMs: number
  /** Counts every failure too; answers while Redis does not. */
  local: LoginLimiter
  logger: Logger
  /** How long a login waits for Redis before it uses the local count. */
  timeoutMs?: number
}

export class RedisLoginLimiter implements LoginLimit {
  private readonly timeoutMs: number
  /** True from the first unanswered call until Redis answers again: one warning per outage. */
  private degraded = false

  constructor(private readonly options: RedisLoginLimiterOptions) {
    this.timeoutMs = options.timeoutMs ?? 1000
  }

  async check(username: string, ip: string): Promise<void> {
    // This node's own count first, always: Redis is not trusted (anything that can reach it could
    // delete the counters), so the worst it can do is bring the limit down to one per node.
    this.options.local.check(username, ip)
    const limits = loginKeys(username, ip, this.options.maxAttempts)
    const keys = limits.map(([key]) => KEY_PREFIX + key)
    let reply: unknown
    try {
      reply = await this.call(() =>
        this.options.redis.eval(CHECK, keys.length, ...keys, this.options.windowMs),
      )
    } catch (err) {
      this.outage(err)
      return
    }
    const values = (reply as (number | string)[]).map(Number)
    for (const [i, [, limit]] of limits.entries()) {
      const [now = 0, count = 0, oldest = now] = [values[0], values[1 + i * 2], values[2 + i * 2]]
      if (count >= limit) throw tooManyFailures(oldest, this.options.windowMs, now)
    }
  }

  async fail(username: string, ip: string): Promise<void> {
    this.options.local.fail(username, ip)
    const keys = loginKeys(username, ip, this.options.maxAttempts).map(([key]) => KEY_PREFIX + key)
    try {
      await this.call(() =>
        this.options.redis.eval(FAIL, keys.length, ...keys, this.options.windowMs, randomUUID()),
      )
    } catch (err) {
      this.outage(err)
    }
  }

  async succeed(username: string, ip: string): Promise<void> {
    this.options.local.succeed(username, ip)
    const [[userKey]] = loginKeys(username, ip, this.options.maxAttempts)
    try {
      await this.call(() => this.options.redis.del(KEY_PREFIX + userKey))
    } catch (err) {
      // The failures stay counted in Redis until they age out: stricter, never looser.
      this.outage(err)
    }
  }

  /** The command's answer, or a rejection once `timeoutMs` passed without one. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer from Redis within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      )
    })
    const pending = command()
    // A late rejection after the timeout won must not become an unhandled one.
    pending.catch(() => {})
    try {
      const result = await Promise.race([pending, timeout])
      if (this.degraded) {
        this.degraded = false
        this.options.logger.info(
          {},
          'login limit: Redis answers again; failed logins are counted cluster-wide',
        )
      }
      return result
    } finally {
      clearTimeout(timer)
    }
  }

  private outage(err: unknown): void {
    if (this.degraded) return
    this.degraded = true
    this.options.logger.warn(
      { err },
      'login limit: Redis does not answer; failed logins are counted on this node only until it does',
    )
  }
}
