import { describe, expect, it } from 'vitest'
import { LoginLimiter } from '../../src/auth/login-limiter.js'
import { TooManyRequestsError } from '../../src/errors.js'

describe('login limiter', () => {
  it('refuses past the limit and lets the caller in again once the window passes', () => {
    let now = 0
    const limiter = new LoginLimiter(3, 1000, () => now)
    for (let i = 0; i < 3; i++) {
      limiter.check('a', '1.1.1.1')
      limiter.fail('a', '1.1.1.1')
    }
    expect(() => limiter.check('a', '1.1.1.1')).toThrow(TooManyRequestsError)
    expect(() => limiter.check('b', '1.1.1.1')).not.toThrow()
    now = 1001
    expect(() => limiter.check('a', '1.1.1.1')).not.toThrow()
  })

  it('forgets expired failures of names that never come back', () => {
    let now = 0
    const limiter = new LoginLimiter(5, 1000, () => now)
    for (let i = 0; i < 999; i++) limiter.fail(`user-${i}`, `10.0.${i >> 8}.${i & 255}`)
    expect(limiter.size).toBeGreaterThan(999)
    now = 5000
    limiter.fail('late', '10.9.9.9')
    expect(limiter.size).toBe(2)
  })
})
