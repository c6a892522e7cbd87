import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ActionCanceled,
  ActionTimeout,
  actionErrors,
} from '../../../../src/modules/scheduler/actions/index.js'
import { isAlive, waitFor } from '../../../helpers/processes.js'
import { childPidFrom, fixture, registry, run } from './helpers.js'

const strays: number[] = []
afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
})

describe('script action', () => {
  it('runs an argv array and succeeds on exit code 0, logging stdout and stderr', async () => {
    const r = await run('script', { command: ['node', '-e', 'console.log("hello"); console.error("warn")'] })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain('\nhello\n')
    expect(r.logs).toContain('[stderr] warn')
    expect(r.logs).toContain('exit code 0')
  })

  it('fails on a non-zero exit code', async () => {
    const r = await run('script', { command: ['node', '-e', 'process.exit(3)'] })
    expect(r).toMatchObject({ ok: false, error: 'exit code 3' })
    expect(r.timedOut).toBeUndefined()
  })

  it('honours okExitCodes', async () => {
    const r = await run('script', { command: ['node', '-e', 'process.exit(3)'], okExitCodes: [0, 3] })
    expect(r.ok).toBe(true)
  })

  it('runs a string through /bin/sh only with shell: true', async () => {
    const r = await run('script', { command: 'echo one && echo two | tr a-z A-Z', shell: true })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain('one\nTWO\n')
  })

  it('runs in cwd', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sched-cwd-'))
    try {
      const r = await run('script', { command: ['pwd'], cwd: dir })
      expect(r.ok).toBe(true)
      expect(r.logs).toContain(`\n${fs.realpathSync(dir)}\n`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('fails clearly when cwd is missing or the program does not exist', async () => {
    const noDir = await run('script', { command: ['pwd'], cwd: '/nonexistent/dir' })
    expect(noDir).toMatchObject({ ok: false, error: 'cwd /nonexistent/dir is not a directory' })
    const noProgram = await run('script', { command: ['/nonexistent/program'] })
    expect(noProgram.ok).toBe(false)
    expect(noProgram.error).toContain('could not start /nonexistent/program')
    expect(noProgram.error).toContain('ENOENT')
  })

  it('passes a safe base environment, its own env and the run ids, never the server secrets', async () => {
    const saved = { ...process.env }
    process.env.MYNTRIX_JWT_SECRET = 'server-secret'
    process.env.MYNTRIX_DATABASE_URL = 'postgres://secret@db/x'
    process.env.DATABASE_URL = 'postgres://secret@db/y'
    process.env.PGPASSWORD = 'pw'
    try {
      const r = await run(
        'script',
        { command: ['node', fixture('prints-env.mjs')], env: { GREETING: 'hi', MYNTRIX_TASK_ID: 'spoofed' } },
        { taskId: 'task-1', runId: 'run-1' },
      )
      expect(r.ok).toBe(true)
      const env = JSON.parse(r.logs.split('\n').find((l) => l.startsWith('{')) as string)
      expect(env.GREETING).toBe('hi')
      expect(env.MYNTRIX_TASK_ID).toBe('task-1')
      expect(env.MYNTRIX_RUN_ID).toBe('run-1')
      expect(env.PATH).toBeTruthy()
      expect(r.logs).not.toContain('secret')
      expect(env.PGPASSWORD).toBeUndefined()
      expect(
        Object.keys(env)
          .filter((k) => k.startsWith('MYNTRIX_'))
          .sort(),
      ).toEqual(['MYNTRIX_RUN_ID', 'MYNTRIX_TASK_ID'])
    } finally {
      process.env = saved
    }
  })

  it('on timeout kills the whole process group, the sleeping child included', async () => {
    const r = await run('script', { command: [fixture('spawns-sleeping-child.sh')], timeoutMs: 300 })
    const child = childPidFrom(r.logs)
    strays.push(child)
    expect(r).toMatchObject({ ok: false, timedOut: true })
    expect(r.logs).toContain('timed out: process group killed')
    await waitFor(() => !isAlive(child), { timeoutMs: 3000, what: `sleeping child ${child} to die` })
  })

  it('escalates to SIGKILL when the script ignores SIGTERM', async () => {
    const r = await run('script', {
      command: ['node', fixture('ignores-sigterm.mjs')],
      timeoutMs: 500,
      killGraceMs: 100,
    })
    expect(r).toMatchObject({ ok: false, timedOut: true })
    expect(r.logs).toContain('got SIGTERM, ignoring')
    expect(r.logs).toContain('SIGKILL')
  })

  it('stops on the caller signal: timeout reason and cancel reason are told apart', async () => {
    const timeout = new AbortController()
    const started = run('script', { command: ['sleep', '30'] }, { signal: timeout.signal })
    timeout.abort(new ActionTimeout(100))
    expect(await started).toMatchObject({ ok: false, timedOut: true })

    const cancel = new AbortController()
    let childStarted: () => void = () => {}
    const started2 = new Promise<void>((resolve) => {
      childStarted = resolve
    })
    const p = run(
      'script',
      { command: [fixture('spawns-sleeping-child.sh')] },
      { signal: cancel.signal, onLog: (text) => text.includes('child ') && childStarted() },
    )
    await started2
    cancel.abort(new ActionCanceled('canceled by user'))
    const r = await p
    expect(r).toMatchObject({ ok: false, canceled: true })
    const child = childPidFrom(r.logs)
    strays.push(child)
    await waitFor(() => !isAlive(child), { timeoutMs: 3000, what: 'child to die' })
  })

  it('returns at once when the signal is already aborted', async () => {
    const c = new AbortController()
    c.abort(new ActionCanceled())
    expect(await run('script', { command: ['sleep', '30'] }, { signal: c.signal })).toMatchObject({
      ok: false,
      canceled: true,
    })
  })

  it('kills what the script left behind in its group when it exits', async () => {
    const r = await run('script', { command: [fixture('leaves-background-child.sh')] })
    expect(r.ok).toBe(true)
    const child = childPidFrom(r.logs)
    strays.push(child)
    await waitFor(() => !isAlive(child), { timeoutMs: 3000, what: 'left-behind child to die' })
  })

  it('caps the log and marks the truncation, keeping the start and the end', async () => {
    const r = await run(
      'script',
      { command: ['node', fixture('floods-output.mjs'), '20000'] },
      { maxLogChars: 4096 },
    )
    expect(r.ok).toBe(true)
    expect(r.logTruncated).toBe(true)
    expect(r.logs.length).toBeLessThan(4096 + 200)
    expect(r.logs).toContain('line 1\n')
    expect(r.logs).toMatch(/\[\.\.\. \d+ characters truncated \.\.\.\]/)
    expect(r.logs).toContain('exit code 0')
  })
})

describe('script payload validation', () => {
  const cases: Array<[string, unknown, string, string]> = [
    ['no command', {}, 'payload.command', 'is required'],
    ['a string without shell', { command: 'ls -l' }, 'payload.command', 'runs only with shell: true'],
    ['an array with shell', { command: ['ls'], shell: true }, 'payload.command', 'must be one string'],
    ['an empty array', { command: [] }, 'payload.command', 'must not be empty'],
    ['a non-string argument', { command: ['ls', 5] }, 'payload.command[1]', 'must be a string'],
    ['an empty program', { command: [' '] }, 'payload.command[0]', 'must name a program'],
    ['a relative cwd', { command: ['ls'], cwd: 'tmp' }, 'payload.cwd', 'must be an absolute path'],
    ['a bad env name', { command: ['ls'], env: { 'A-B': 'x' } }, 'payload.env.A-B', 'name must be'],
    ['a non-string env value', { command: ['ls'], env: { A: 1 } }, 'payload.env.A', 'must be a string'],
    [
      'a zero timeout',
      { command: ['ls'], timeoutMs: 0 },
      'payload.timeoutMs',
      'must be a whole number from 1',
    ],
    [
      'a bad exit code',
      { command: ['ls'], okExitCodes: [300] },
      'payload.okExitCodes[0]',
      'must be an exit code',
    ],
    ['an unknown field', { command: ['ls'], timeout: 5 }, 'payload.timeout', 'unknown field'],
    ['not an object', ['ls'], 'payload', 'must be an object'],
  ]
  it.each(cases)('rejects %s', (_name, payload, path, message) => {
    const errors = actionErrors(registry, 'script', payload)
    expect(errors.map((e) => e.path)).toContain(path)
    expect(errors.find((e) => e.path === path)?.message).toContain(message)
  })

  it('accepts a valid payload', () => {
    expect(
      actionErrors(registry, 'script', { command: ['ls', '-l'], cwd: '/tmp', env: { A: 'b' }, timeoutMs: 5 }),
    ).toEqual([])
  })

  it('a run with an invalid payload fails without running anything', async () => {
    const r = await run('script', { command: 'rm -rf /tmp/nothing' })
    expect(r.ok).toBe(false)
    expect(r.error).toContain('invalid payload')
  })
})
