// In CI (CI=true) the suites that skip when a service is missing must not
// skip: PostgreSQL, socat ptys, the MQTT broker, Redis (the cluster suites), the Docker engine (with what
// the test image is built from), Chromium and a fresh build
// (for the npm start and browser tests) must all be there.

import { execFileSync } from 'node:child_process'
import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { CHROMIUM } from './helpers/browser.js'
import { whyNoDocker } from './helpers/docker.js'
import { whyNotBuilt } from './helpers/server.js'

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
  it('reaches Redis on 127.0.0.1:6379, so the cluster suites (test/cluster/) run', async () => {
    expect(await reachable(6379)).toBe(true)
  })
  it('reaches the Docker engine for the container runtime tests', async () => {
    expect(await whyNoDocker()).toBeNull()
  })
  it('has Chromium for the browser tests', () => {
    expect(() => execFileSync(CHROMIUM, ['--version'], { stdio: 'ignore' })).not.toThrow()
  })
  it('has a fresh build of the server and the console', () => {
    expect(whyNotBuilt()).toBeNull()
  })
})
