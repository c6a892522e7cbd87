// In CI (CI=true) the suites that skip when a service is missing must not
// skip: PostgreSQL, socat ptys and the MQTT broker must all be there.

import { execFileSync } from 'node:child_process'
import net from 'node:net'
import { describe, expect, it } from 'vitest'

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

describe.runIf(process.env.CI === 'true')('CI has every real part the suites need', () => {
  it('runs the PostgreSQL engine', () => {
    expect(process.env.MYNTRIX_TEST_DATABASE_URL, 'MYNTRIX_TEST_DATABASE_URL must be set in CI').toMatch(
      /^postgres/,
    )
  })
  it('has socat for pseudo-terminals', () => {
    expect(() => execFileSync('socat', ['-V'], { stdio: 'ignore' })).not.toThrow()
  })
  it('reaches the MQTT broker on 127.0.0.1:1883', async () => {
    expect(await reachable(1883)).toBe(true)
  })
  it('reaches PostgreSQL on 127.0.0.1:5432', async () => {
    expect(await reachable(5432)).toBe(true)
  })
})
