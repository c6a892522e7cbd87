// Restart policy, backoff, crash loops, health, environment: real processes.
import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { SupervisorEvent } from '../../../src/modules/agents/agent-entry.js'
import { freePort } from '../../helpers/ports.js'
import { type Harness, harness, isAlive, node } from './helpers.js'

let h: Harness

afterEach(async () => {
  await h?.close()
})

type StatusEvent = Extract<SupervisorEvent, { type: 'status' }>
type HealthEvent = Extract<SupervisorEvent, { type: 'health' }>

const fast = { initialMs: 20, maxMs: 100, stableMs: 60_000, jitter: 0 }

describe('restart policy', () => {
  it('brings a crashed agent back at once with a new pid and counts the restart', async () => {
    h = harness({ backoff: fast })
    const first = await h.supervisor.start('a1', {
      command: node('crashes-after-ms.mjs', 100),
      restartPolicy: 'on-failure',
      maxRestarts: 100,
    })
    const exit = (await h.waitFor((e) => e.type === 'exit' && e.agentId === 'a1')) as Extract<
      SupervisorEvent,
      { type: 'exit' }
    >
    expect(exit.expected).toBe(false)
    expect(exit.exit.code).toBe(1)
    const restarting = await h.waitStatus('a1', 'restarting')
    expect(restarting.reason).toBe('exited with code 1; restarting in 0 ms')
    const i = h.events.indexOf(h.events.find((e) => e.type === 'status' && e.facts.status === 'restarting')!)
    const again = await h.waitStatus('a1', 'running', i)
    expect(again.pid).not.toBe(first.pid)
    expect(again.restarts).toBe(1)
    expect(again.lastExit?.code).toBe(1)
  })

  it('backs off: the second restart waits, the delay doubles', async () => {
    h = harness({ backoff: fast })
    await h.supervisor.start('a1', { command: node('crashes-after-ms.mjs', 10), maxRestarts: 4 })
    await h.waitStatus('a1', 'error')
    const reasons = h.events
      .filter((e): e is StatusEvent => e.type === 'status' && e.facts.status === 'restarting')
      .map((e) => e.facts.reason)
    expect(reasons).toEqual([
      'exited with code 1; restarting in 0 ms',
      'exited with code 1; restarting in 20 ms',
      'exited with code 1; restarting in 40 ms',
      'exited with code 1; restarting in 80 ms',
    ])
  })

  it('ends a crash loop in error with the reason instead of restarting forever', async () => {
    h = harness({ backoff: fast })
    await h.supervisor.start('a1', { command: node('crashes-after-ms.mjs', 10), maxRestarts: 3 })
    const facts = await h.waitStatus('a1', 'error')
    expect(facts.reason).toMatch(
      /^crash loop: more than 3 restarts within 60000 ms; last: exited with code 1$/,
    )
    expect(facts.restarts).toBe(3)
    expect(facts.pid).toBeNull()
    expect(facts.health).toBe(0)
  })

  it('counts only restarts inside the window: slow crashes never make a loop', async () => {
    // Each run lives ~150 ms and the window is 100 ms: at most one restart is ever inside it.
    h = harness({ backoff: { ...fast, initialMs: 1, maxMs: 1 } })
    await h.supervisor.start('a1', {
      command: node('crashes-after-ms.mjs', 150),
      maxRestarts: 1,
      restartWindowMs: 100,
    })
    await h.waitFor((e) => e.type === 'status' && e.facts.status === 'running' && e.facts.restarts === 3)
    expect(h.events.some((e) => e.type === 'status' && e.facts.status === 'error')).toBe(false)
  })

  it('on-failure does not restart a clean exit', async () => {
    h = harness({ backoff: fast })
    await h.supervisor.start('a1', { command: node('crashes-after-ms.mjs', 10, 0) })
    const facts = await h.waitStatus('a1', 'stopped')
    expect(facts.reason).toBe('exited with code 0')
    expect(facts.restarts).toBe(0)
  })

  it('always restarts even a clean exit', async () => {
    h = harness({ backoff: fast })
    await h.supervisor.start('a1', { command: node('crashes-after-ms.mjs', 10, 0), restartPolicy: 'always' })
    await h.waitFor((e) => e.type === 'status' && e.facts.status === 'running' && e.facts.restarts === 1)
  })

  it('never leaves a failed agent in error without restarting', async () => {
    h = harness({ backoff: fast })
    await h.supervisor.start('a1', { command: node('crashes-after-ms.mjs', 10, 3), restartPolicy: 'never' })
    const facts = await h.waitStatus('a1', 'error')
    expect(facts.reason).toBe('exited with code 3')
    expect(facts.restarts).toBe(0)
  })

  it('stop during the backoff cancels the pending restart', async () => {
    h = harness({ backoff: { ...fast, initialMs: 60_000, maxMs: 60_000 } })
    await h.supervisor.start('a1', { command: node('crashes-after-ms.mjs', 10) })
    await h.waitFor((e) => e.type === 'status' && e.facts.status === 'running' && e.facts.restarts === 1)
    await h.waitFor(
      (e) => e.type === 'status' && e.facts.reason === 'exited with code 1; restarting in 60000 ms',
    )
    const facts = await h.supervisor.stop('a1')
    expect(facts.status).toBe('stopped')
    expect(facts.pid).toBeNull()
  })

  it('start after a crash loop tries again with a fresh window', async () => {
    h = harness({ backoff: fast })
    await h.supervisor.start('a1', { command: node('crashes-after-ms.mjs', 10), maxRestarts: 0 })
    await h.waitStatus('a1', 'error')
    const facts = await h.supervisor.start('a1', { command: node('prints-lines.mjs') })
    expect(facts.status).toBe('running')
  })
})

describe('environment', () => {
  it('gives the child an explicit environment without the server secrets', async () => {
    process.env.MYNTRIX_JWT_SECRET = 'server-secret'
    process.env.MYNTRIX_DATABASE_URL = 'postgres://secret@localhost/db'
    try {
      h = harness()
      await h.supervisor.start('agent-7', {
        command: node('prints-env.mjs'),
        env: { GREETING: 'hello' },
        model: 'gpt-x',
        temperature: 0.5,
      })
      const env = JSON.parse(await h.waitLog('agent-7', '{')) as Record<string, string>
      expect(env.MYNTRIX_JWT_SECRET).toBeUndefined()
      expect(env.MYNTRIX_DATABASE_URL).toBeUndefined()
      expect(Object.keys(env).filter((k) => k.startsWith('MYNTRIX_'))).toEqual(
        expect.arrayContaining(['MYNTRIX_AGENT_ID', 'MYNTRIX_AGENT_CONFIG']),
      )
      expect(env.MYNTRIX_AGENT_ID).toBe('agent-7')
      expect(JSON.parse(env.MYNTRIX_AGENT_CONFIG)).toEqual({ model: 'gpt-x', temperature: 0.5 })
      expect(env.GREETING).toBe('hello')
      expect(env.PATH).toBeTruthy()
      expect(env.LANG).toBeTruthy()
      for (const k of Object.keys(env)) {
        expect([
          'PATH',
          'HOME',
          'LANG',
          'TZ',
          'GREETING',
          'MYNTRIX_AGENT_ID',
          'MYNTRIX_AGENT_CONFIG',
        ]).toContain(k)
      }
    } finally {
      delete process.env.MYNTRIX_JWT_SECRET
      delete process.env.MYNTRIX_DATABASE_URL
    }
  })
})

describe('health', () => {
  it('reports CPU and memory of the whole process tree', async () => {
    h = harness()
    await h.supervisor.start('a1', { command: node('burns-cpu.mjs') })
    await h.waitLog('a1', 'ready')
    // The busy loop runs in a child: only a tree-wide sample sees it.
    const e = (await h.waitFor(
      (ev) => ev.type === 'health' && ev.agentId === 'a1' && (ev.facts.cpuPercent ?? 0) > 20,
    )) as HealthEvent
    expect(e.facts.processCount).toBe(2)
    expect(e.facts.memoryBytes).toBeGreaterThan(10 * 1024 * 1024)
    expect(h.supervisor.status('a1').cpuPercent).toBeGreaterThan(0)
  })

  // Heartbeat and HTTP checks: health.conformance.test.ts, over processes and containers.

  it('an HTTP check against a closed port fails with the error code', async () => {
    const port = await freePort()
    h = harness()
    await h.supervisor.start('a1', {
      command: node('prints-lines.mjs'),
      healthCheck: { type: 'http', url: `http://127.0.0.1:${port}/`, intervalMs: 100, timeoutMs: 500 },
    })
    const bad = (await h.waitFor(
      (e) => e.type === 'health' && e.facts.healthDetails.check.score === 0,
    )) as HealthEvent
    expect(bad.facts.healthDetails.check.detail).toMatch(/ECONNREFUSED/)
  })

  it('an HTTP check that gets no answer fails after its timeout', async () => {
    // A server that accepts and never answers.
    const sockets = new Set<import('node:net').Socket>()
    const silent: Server = createServer((s) => sockets.add(s))
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as { port: number }).port
    try {
      h = harness()
      await h.supervisor.start('a1', {
        command: node('prints-lines.mjs'),
        healthCheck: { type: 'http', url: `http://127.0.0.1:${port}/`, intervalMs: 100, timeoutMs: 100 },
      })
      const bad = (await h.waitFor(
        (e) => e.type === 'health' && e.facts.healthDetails.check.score === 0,
      )) as HealthEvent
      expect(bad.facts.healthDetails.check.detail).toMatch(/no answer within 100 ms/)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((r) => silent.close(r))
    }
  })

  it('restarts an agent whose tree exceeds maxMemoryMb', async () => {
    h = harness({ backoff: fast })
    // A Node process alone is well above 5 MB resident.
    const first = await h.supervisor.start('a1', {
      command: node('prints-lines.mjs'),
      maxMemoryMb: 5,
      maxRestarts: 1,
    })
    const restarting = await h.waitStatus('a1', 'restarting')
    expect(restarting.reason).toMatch(/^memory \d+\.\d MB exceeded maxMemoryMb 5/)
    await h.waitFor((e) => e.type === 'exit' && e.expected)
    expect(isAlive(first.pid!)).toBe(false)
    const facts = await h.waitStatus('a1', 'error')
    expect(facts.reason).toMatch(/crash loop: more than 1 restarts/)
  })

  it('counts recent restarts against health', async () => {
    h = harness({ backoff: fast })
    await h.supervisor.start('a1', { command: node('crashes-after-ms.mjs', 200), maxRestarts: 10 })
    const e = (await h.waitFor(
      (ev) => ev.type === 'status' && ev.facts.status === 'running' && ev.facts.restarts === 2,
    )) as StatusEvent
    expect(e.facts.healthDetails.recentRestarts.score).toBe(5)
    expect(e.facts.health).toBe(90)
  })
})
