import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ValidationError } from '../../../src/errors.js'
import { AgentNoCommandError, AgentSpawnError } from '../../../src/modules/agents/errors.js'
import { FIXTURES, type Harness, harness, isAlive, node } from './helpers.js'

let h: Harness

afterEach(async () => {
  await h?.close()
})

describe('Supervisor: start, logs, stop', () => {
  it('captures stdout and stderr line by line with stream and timestamp', async () => {
    h = harness()
    const facts = await h.supervisor.start('a1', { command: node('prints-lines.mjs', 3) })
    expect(facts.status).toBe('running')
    expect(facts.pid).toBeGreaterThan(0)
    expect(isAlive(facts.pid!)).toBe(true)
    // Two pipes: stderr may arrive before or after stdout's last line.
    await Promise.all([h.waitLog('a1', 'ready'), h.waitLog('a1', 'to stderr')])
    const logs = h.supervisor.logs('a1')
    expect(logs.map((l) => l.line)).toEqual(expect.arrayContaining(['line 1', 'line 2', 'line 3', 'ready']))
    const err = logs.find((l) => l.line === 'to stderr')
    expect(err?.stream).toBe('stderr')
    expect(logs.find((l) => l.line === 'line 1')?.stream).toBe('stdout')
    expect(logs[0]?.ts).toBeInstanceOf(Date)
    expect(h.supervisor.logs('a1', 2)).toHaveLength(2)
    expect(h.supervisor.logs('a1', 0)).toHaveLength(0)
  })

  it('writes the lines to a per-agent log file', async () => {
    h = harness()
    await h.supervisor.start('a1', { command: node('prints-lines.mjs', 2) })
    await h.waitLog('a1', 'ready')
    await h.supervisor.flushLogs('a1')
    const text = readFileSync(join(h.logDir, 'a1.log'), 'utf8')
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z stdout line 1$/m)
    expect(text).toMatch(/ stderr to stderr$/m)
  })

  it('keeps only the configured number of lines in memory', async () => {
    h = harness({ logBufferLines: 3 })
    await h.supervisor.start('a1', { command: node('prints-lines.mjs', 10) })
    await h.waitLog('a1', 'ready')
    const lines = h.supervisor.logs('a1', 100)
    expect(lines).toHaveLength(3)
    expect(lines.at(-1)?.line).toBe('ready')
  })

  it('splits a command string without a shell, honouring quotes', async () => {
    h = harness()
    await h.supervisor.start('a1', {
      command: `${process.execPath} ${join(FIXTURES, 'prints-cwd.mjs')} "two words" 'x$HOME' plain`,
      restartPolicy: 'never',
    })
    const line = await h.waitLog('a1', 'cwd')
    expect(JSON.parse(line).args).toEqual(['two words', 'x$HOME', 'plain'])
  })

  it('runs in the configured cwd', async () => {
    h = harness()
    await h.supervisor.start('a1', { command: node('prints-cwd.mjs'), cwd: FIXTURES, restartPolicy: 'never' })
    const line = await h.waitLog('a1', 'cwd')
    expect(JSON.parse(line).cwd).toBe(FIXTURES)
  })

  it('is idempotent: start on a running agent keeps the same process', async () => {
    h = harness()
    const first = await h.supervisor.start('a1', { command: node('prints-lines.mjs') })
    const second = await h.supervisor.start('a1', { command: node('prints-lines.mjs') })
    expect(second.pid).toBe(first.pid)
    expect(second.status).toBe('running')
  })

  it('stops with SIGTERM and reports the exit', async () => {
    h = harness()
    const { pid } = await h.supervisor.start('a1', { command: node('prints-lines.mjs') })
    await h.waitLog('a1', 'ready')
    const facts = await h.supervisor.stop('a1')
    expect(facts.status).toBe('stopped')
    expect(facts.pid).toBeNull()
    expect(facts.reason).toBeNull()
    expect(facts.lastExit?.signal).toBe('SIGTERM')
    expect(facts.health).toBe(0)
    expect(isAlive(pid!)).toBe(false)
  })

  it('escalates to SIGKILL when the agent ignores SIGTERM', async () => {
    h = harness()
    const { pid } = await h.supervisor.start('a1', {
      command: node('ignores-sigterm.mjs'),
      stopTimeoutMs: 300,
    })
    await h.waitLog('a1', 'ready')
    const facts = await h.supervisor.stop('a1')
    expect(h.supervisor.logs('a1').map((l) => l.line)).toContain('got SIGTERM, ignoring it')
    expect(facts.lastExit?.signal).toBe('SIGKILL')
    expect(facts.reason).toMatch(/SIGKILL/)
    expect(facts.status).toBe('stopped')
    expect(isAlive(pid!)).toBe(false)
  })

  it('ends grandchildren with the agent, even one that ignores SIGTERM', async () => {
    h = harness()
    await h.supervisor.start('a1', { command: node('spawns-grandchild.mjs'), stopTimeoutMs: 300 })
    const line = await h.waitLog('a1', /^grandchild \d+$/)
    const grandchild = Number(line.split(' ')[1])
    expect(isAlive(grandchild)).toBe(true)
    await h.supervisor.stop('a1')
    expect(isAlive(grandchild)).toBe(false)
  })

  it('stop of an unknown or stopped agent is a no-op answering stopped', async () => {
    h = harness()
    expect((await h.supervisor.stop('nobody')).status).toBe('stopped')
    await h.supervisor.start('a1', { command: node('prints-lines.mjs') })
    await h.supervisor.stop('a1')
    expect((await h.supervisor.stop('a1')).status).toBe('stopped')
  })

  it('restart gives a new process and counts the restart', async () => {
    h = harness()
    const first = await h.supervisor.start('a1', { command: node('prints-lines.mjs') })
    const second = await h.supervisor.restart('a1')
    expect(second.status).toBe('running')
    expect(second.pid).not.toBe(first.pid)
    expect(second.restarts).toBe(1)
    expect(isAlive(first.pid!)).toBe(false)
  })

  it('restart with a new configuration runs the new command', async () => {
    h = harness()
    await h.supervisor.start('a1', { command: node('prints-lines.mjs', 1) })
    await h.supervisor.restart('a1', { command: node('prints-lines.mjs', 5) })
    await h.waitLog('a1', 'line 5')
  })

  it('concurrent start and stop calls leave exactly one consistent outcome', async () => {
    h = harness()
    const cfg = { command: node('prints-lines.mjs') }
    const [a, b] = await Promise.all([h.supervisor.start('a1', cfg), h.supervisor.start('a1', cfg)])
    expect(a.pid).toBe(b.pid)
    const [, stopped] = await Promise.all([h.supervisor.restart('a1'), h.supervisor.stop('a1')])
    expect(stopped.status).toBe('stopped')
    expect(h.supervisor.status('a1').pid).toBeNull()
  })
})

describe('Supervisor: bad input', () => {
  it('rejects an agent without a command with AgentNoCommandError (422)', async () => {
    h = harness()
    const err = await h.supervisor.start('a1', { cwd: '/tmp' }).catch((e) => e)
    expect(err).toBeInstanceOf(AgentNoCommandError)
    expect(err.status).toBe(422)
    expect(err.message).toMatch(/no command/)
  })

  it('rejects an invalid configuration with field paths', async () => {
    h = harness()
    const err = await h.supervisor.start('a1', { command: 'x', stopTimeoutMs: -5 }).catch((e) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect(err.errors).toEqual([{ path: 'stopTimeoutMs', message: 'stopTimeoutMs must be >= 0, got -5' }])
  })

  it('rejects an id that is not a plain file name', async () => {
    h = harness()
    await expect(h.supervisor.start('../etc', { command: 'true' })).rejects.toBeInstanceOf(ValidationError)
  })

  it('a missing program is a spawn error and leaves the agent in error', async () => {
    h = harness()
    const err = await h.supervisor.start('a1', { command: ['/nonexistent/program'] }).catch((e) => e)
    expect(err).toBeInstanceOf(AgentSpawnError)
    expect(err.status).toBe(422)
    expect(err.message).toMatch(/ENOENT/)
    const facts = h.supervisor.status('a1')
    expect(facts.status).toBe('error')
    expect(facts.reason).toMatch(/ENOENT/)
  })

  it('a missing cwd is reported as such', async () => {
    h = harness()
    const err = await h.supervisor
      .start('a1', { command: node('prints-lines.mjs'), cwd: '/nonexistent/dir' })
      .catch((e) => e)
    expect(err).toBeInstanceOf(AgentSpawnError)
    expect(err.message).toMatch(/cwd \/nonexistent\/dir/)
  })

  it('refuses to start after stopAll', async () => {
    h = harness()
    await h.supervisor.stopAll()
    await expect(h.supervisor.start('a1', { command: node('prints-lines.mjs') })).rejects.toMatchObject({
      status: 503,
    })
  })
})

describe('Supervisor: shutdown', () => {
  it('stopAll caps each stop timeout so a shutdown fits its deadline', async () => {
    h = harness()
    const { pid } = await h.supervisor.start('a1', {
      command: node('ignores-sigterm.mjs'),
      stopTimeoutMs: 600_000,
    })
    await h.waitLog('a1', 'ready')
    await h.supervisor.stopAll({ maxTimeoutMs: 200 })
    const facts = h.supervisor.status('a1')
    expect(facts.status).toBe('stopped')
    expect(facts.reason).toBe('did not exit within 200 ms of SIGTERM; killed with SIGKILL')
    expect(isAlive(pid!)).toBe(false)
  })
})
