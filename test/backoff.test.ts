import { describe, expect, it } from 'vitest'
import { backoffDelayMs, RestartWindow, restartDelayMs } from '../src/backoff.js'

describe('backoff', () => {
  const opts = { initialMs: 500, maxMs: 30_000, stableMs: 60_000, jitter: 0.2 }
  const mid = () => 0.5

  it('restarts at once first, then doubles from initialMs to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 20].map((n) => restartDelayMs(n, opts, mid))).toEqual([
      0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ])
  })

  it('jitters within +-jitter and never above the cap', () => {
    expect(restartDelayMs(2, opts, () => 0)).toBe(400)
    expect(restartDelayMs(2, opts, () => 1)).toBe(600)
    expect(restartDelayMs(12, opts, () => 1)).toBe(30_000)
  })

  it('RestartWindow allows max restarts inside the window', () => {
    const w = new RestartWindow()
    expect([0, 10, 20].map((t) => w.tryRecord(t, 2, 100))).toEqual([true, true, false])
    expect(w.count(50, 100)).toBe(2)
    expect(w.tryRecord(100, 2, 100)).toBe(true) // t=0 left the window
    expect(w.count(1000, 100)).toBe(0)
    expect(new RestartWindow().tryRecord(0, 0, 100)).toBe(false)
  })
})

describe('backoffDelayMs', () => {
  it('without jitter doubles from initialMs to the cap (a device reconnecting)', () => {
    const opts = { initialMs: 1000, maxMs: 30_000, jitter: 0 }
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((n) => backoffDelayMs(n, opts))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ])
  })
})
