import { describe, expect, it } from 'vitest'
import { heartbeatResult, isHeartbeatLine } from '../../../src/modules/agents/checks.js'
import { computeHealth, type HealthInput } from '../../../src/modules/agents/health.js'

const healthy: HealthInput = {
  alive: true,
  recentRestarts: 0,
  check: null,
  memoryBytes: 50 * 1024 * 1024,
  maxMemoryMb: null,
  cpuPercent: 1,
}

describe('computeHealth', () => {
  it('is 100 for a running agent with no problems', () => {
    const { health, details } = computeHealth(healthy)
    expect(health).toBe(100)
    expect(Object.keys(details)).toEqual(['liveness', 'check', 'recentRestarts', 'memory', 'cpu'])
    expect(Object.values(details).reduce((s, p) => s + p.max, 0)).toBe(100)
  })

  it('is 0 when the process is not running, whatever the rest', () => {
    const r = computeHealth({ ...healthy, alive: false })
    expect(r.health).toBe(0)
    expect(r.details.liveness).toEqual({ score: 0, max: 30, detail: 'process not running' })
  })

  it('a failing check costs 40, a pending one nothing', () => {
    expect(computeHealth({ ...healthy, check: { ok: false, detail: 'HTTP 500' } }).health).toBe(60)
    expect(computeHealth({ ...healthy, check: { ok: null, detail: 'waiting' } }).health).toBe(100)
    expect(computeHealth({ ...healthy, check: { ok: true, detail: 'HTTP 200' } }).details.check.detail).toBe(
      'HTTP 200',
    )
  })

  it('each recent restart costs 5, at most 15', () => {
    expect(computeHealth({ ...healthy, recentRestarts: 1 }).health).toBe(95)
    expect(computeHealth({ ...healthy, recentRestarts: 3 }).health).toBe(85)
    expect(computeHealth({ ...healthy, recentRestarts: 9 }).health).toBe(85)
  })

  it('memory pressure counts from 80 % of the limit', () => {
    const mb = 1024 * 1024
    expect(computeHealth({ ...healthy, maxMemoryMb: 100, memoryBytes: 80 * mb }).details.memory.score).toBe(
      10,
    )
    expect(computeHealth({ ...healthy, maxMemoryMb: 100, memoryBytes: 90 * mb }).details.memory.score).toBe(5)
    expect(computeHealth({ ...healthy, maxMemoryMb: 100, memoryBytes: 120 * mb }).details.memory.score).toBe(
      0,
    )
    expect(computeHealth({ ...healthy, maxMemoryMb: 100, memoryBytes: 90 * mb }).details.memory.detail).toBe(
      '90.0 MB of 100 MB',
    )
  })

  it('CPU pressure counts from 90 % of one core', () => {
    expect(computeHealth({ ...healthy, cpuPercent: 90 }).details.cpu.score).toBe(5)
    expect(computeHealth({ ...healthy, cpuPercent: 95 }).details.cpu.score).toBe(3)
    expect(computeHealth({ ...healthy, cpuPercent: 180 }).details.cpu.score).toBe(0)
  })
})

describe('heartbeat', () => {
  it('recognises the heartbeat line and nothing else', () => {
    expect(isHeartbeatLine('{"myntrix":"heartbeat"}')).toBe(true)
    expect(isHeartbeatLine('  { "myntrix" : "heartbeat", "n": 3 }  ')).toBe(true)
    expect(isHeartbeatLine('heartbeat')).toBe(false)
    expect(isHeartbeatLine('{"myntrix":"heartbeat"')).toBe(false)
    expect(isHeartbeatLine('{"other":"heartbeat"}')).toBe(false)
  })

  it('is pending before the first beat, fresh within the timeout, failing after it', () => {
    expect(heartbeatResult(null, 0, 50, 100).ok).toBeNull()
    expect(heartbeatResult(null, 0, 150, 100)).toEqual({
      ok: false,
      detail: 'no heartbeat within 100 ms of start',
    })
    expect(heartbeatResult(100, 0, 150, 100)).toEqual({ ok: true, detail: 'heartbeat 50 ms ago' })
    expect(heartbeatResult(100, 0, 250, 100).ok).toBe(false)
  })
})
