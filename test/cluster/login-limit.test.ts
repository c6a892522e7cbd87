// The login limit across nodes (three apps on one PostgreSQL database and the
// local Redis, in this test process): failures spread over nodes A and B add up,
// so node C, which never saw one, answers 429 with Retry-After; the count ages
// out with the window; a successful login resets it as on one instance. And
// when Redis does not answer, a node keeps limiting with its own count.
//
// Every test logs in from an address of its own (light-my-request's
// remoteAddress): the per-address counter lives in the shared Redis, and other
// test files log in from 127.0.0.1.

import { randomInt } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { LoginLimiter } from '../../src/auth/login-limiter.js'
import { RedisLoginLimiter } from '../../src/auth/redis-login-limiter.js'
import { TooManyRequestsError } from '../../src/errors.js'
import { silentLogger } from '../../src/logger.js'
import { ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/app.js'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { REDIS_URL, redisReachable } from '../helpers/redis.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres || !hasRedis) console.warn('skipping cluster login limit tests: they need PostgreSQL and Redis')

const MAX_ATTEMPTS = 3
const WINDOW_SECONDS = 2

/** An address no other test (or other run) uses at the same time. */
const freshAddress = () => `10.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`

describe.skipIf(!postgres || !hasRedis)('login limit across nodes', () => {
  let testDb: TestDatabase
  const apps: TestApp[] = []

  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close()
    await testDb?.drop()
  })

  async function threeNodes() {
    testDb = await postgres!.createDatabase()
    for (const name of ['node-a', 'node-b', 'node-c']) {
      const app = await createTestApp(postgres!, {
        testDb,
        seedUsers: name === 'node-a',
        env: {
          MYNTRIX_REDIS_URL: REDIS_URL,
          MYNTRIX_NODE_NAME: name,
          MYNTRIX_LOGIN_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
          MYNTRIX_LOGIN_WINDOW_SECONDS: String(WINDOW_SECONDS),
        },
      })
      apps.push(app)
    }
    const [a, b, c] = apps
    if (!a || !b || !c) throw new Error('three nodes expected')
    return { a, b, c }
  }

  async function login(on: TestApp, ip: string, password: string) {
    const res = await on.app.inject({
      method: 'POST',
      url: '/api/auth/token',
      remoteAddress: ip,
      payload: { username: 'admin', password },
    })
    return { status: res.statusCode, retryAfter: res.headers['retry-after'], body: res.json() }
  }

  it('adds up failures on A and B, so C answers 429 with Retry-After, also for the right password; the window ages them out', async () => {
    const { a, b, c } = await threeNodes()
    const ip = freshAddress()
    expect((await login(a, ip, 'wrong-1')).status).toBe(401)
    expect((await login(b, ip, 'wrong-2')).status).toBe(401)
    expect((await login(a, ip, 'wrong-3')).status).toBe(401)

    const limited = await login(c, ip, ADMIN_PASSWORD)
    expect(limited.status).toBe(429)
    expect(limited.body).toMatchObject({ status: 429 })
    const retryAfter = Number(limited.retryAfter)
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS)
    // Another address is not limited by this one's failures.
    expect((await login(c, freshAddress(), ADMIN_PASSWORD)).status).toBe(200)

    // Past Retry-After the oldest failures have aged out (on Redis's clock).
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 200))
    expect((await login(c, ip, ADMIN_PASSWORD)).status).toBe(200)
  })

  it('forgets the username+address failures on a successful login on any node', async () => {
    const { a, b, c } = await threeNodes()
    const ip = freshAddress()
    expect((await login(a, ip, 'wrong-1')).status).toBe(401)
    expect((await login(b, ip, 'wrong-2')).status).toBe(401)
    expect((await login(b, ip, ADMIN_PASSWORD)).status).toBe(200)
    // Without the reset the third failure below would reach the limit of 3.
    expect((await login(c, ip, 'wrong-3')).status).toBe(401)
    expect((await login(a, ip, 'wrong-4')).status).toBe(401)
    expect((await login(c, ip, ADMIN_PASSWORD)).status).toBe(200)
    // And the count still reaches the limit after a reset.
    for (const on of [a, b, c]) expect((await login(on, ip, 'wrong')).status).toBe(401)
    expect((await login(b, ip, ADMIN_PASSWORD)).status).toBe(429)
  })
})

describe.skipIf(!hasRedis)('login limit while Redis does not answer', () => {
  const clients: Redis[] = []

  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect()
  })

  it('keeps limiting with the local count and warns once', async () => {
    // Nothing listens on port 1 of 127.0.0.1: every command is refused, as in an outage.
    const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 1 })
    redis.on('error', () => {})
    clients.push(redis)
    const warnings: string[] = []
    const limiter = new RedisLoginLimiter({
      redis,
      maxAttempts: 2,
      windowMs: 60_000,
      local: new LoginLimiter(2, 60_000),
      logger: { ...silentLogger, warn: (_obj: unknown, msg?: string) => warnings.push(msg ?? '') },
      timeoutMs: 300,
    })
    await limiter.check('admin', '10.0.0.1')
    await limiter.fail('admin', '10.0.0.1')
    await limiter.fail('admin', '10.0.0.1')
    await expect(limiter.check('admin', '10.0.0.1')).rejects.toBeInstanceOf(TooManyRequestsError)
    // A success still resets the local count.
    await limiter.succeed('admin', '10.0.0.1')
    await limiter.check('admin', '10.0.0.1')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('counted on this node only')
  })

  it('shares one count between limiters on one Redis, in keys that expire with the window', async () => {
    const redis = new Redis(REDIS_URL)
    clients.push(redis)
    const user = `user-${randomInt(1e9)}`
    const ip = freshAddress()
    const limiter = (client: Redis) =>
      new RedisLoginLimiter({
        redis: client,
        maxAttempts: 2,
        windowMs: 60_000,
        local: new LoginLimiter(2, 60_000),
        logger: silentLogger,
      })
    const first = limiter(redis)
    const second = limiter(redis)
    await first.fail(user, ip)
    await second.fail(user, ip)
    // Two limiters on one Redis share the count, as two nodes do.
    await expect(first.check(user, ip)).rejects.toBeInstanceOf(TooManyRequestsError)
    await expect(second.check(user, ip)).rejects.toBeInstanceOf(TooManyRequestsError)
    const keys = [`myx:login:u:${user}|${ip}`, `myx:login:ip:${ip}`]
    for (const key of keys) {
      expect(await redis.zcard(key)).toBe(2)
      const ttl = await redis.pttl(key)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(60_000)
    }
    await redis.del(...keys)
  })

  it('still limits with its own count when the counters in Redis are deleted between guesses', async () => {
    const redis = new Redis(REDIS_URL)
    clients.push(redis)
    const user = `user-${randomInt(1e9)}`
    const ip = freshAddress()
    const keys = [`myx:login:u:${user}|${ip}`, `myx:login:ip:${ip}`]
    const limiter = new RedisLoginLimiter({
      redis,
      maxAttempts: 2,
      windowMs: 60_000,
      local: new LoginLimiter(2, 60_000),
      logger: silentLogger,
    })
    // Something with access to Redis wipes the shared count after every failure...
    for (let i = 0; i < 2; i++) {
      await limiter.check(user, ip)
      await limiter.fail(user, ip)
      await redis.del(...keys)
    }
    // ...and the node still refuses the next guess: the shared count is not the only one.
    await expect(limiter.check(user, ip)).rejects.toBeInstanceOf(TooManyRequestsError)
  })
})
