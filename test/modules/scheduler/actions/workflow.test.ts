import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ValidationError } from '../../../../src/errors.js'
import {
  ActionTimeout,
  actionErrors,
  validateAction,
} from '../../../../src/modules/scheduler/actions/index.js'
import { registry, run } from './helpers.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sched-wf-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const touch = (name: string) => ({ action: 'script', payload: { command: ['touch', path.join(dir, name)] } })

describe('workflow action', () => {
  it('runs steps in order and logs each one', async () => {
    const r = await run('workflow', {
      steps: [
        touch('a'),
        { ...touch('b'), name: 'second file' },
        { action: 'script', payload: { command: ['ls', dir] } },
      ],
    })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain('== step 1/3 (script): started')
    expect(r.logs).toContain('== step 2/3 (second file): ok')
    expect(r.logs).toMatch(
      /step 3\/3 \(script\): started\n\$ ls .*\na\nb\nexit code 0\n== step 3\/3 \(script\): ok/,
    )
  })

  it('stops at the first failure and does not run later steps', async () => {
    const r = await run('workflow', {
      steps: [
        touch('a'),
        { action: 'script', payload: { command: ['node', '-e', 'process.exit(7)'] } },
        touch('c'),
      ],
    })
    expect(r.ok).toBe(false)
    expect(r.error).toBe('step 2/3 (script) failed: exit code 7')
    expect(fs.existsSync(path.join(dir, 'a'))).toBe(true)
    expect(fs.existsSync(path.join(dir, 'c'))).toBe(false)
    expect(r.logs).not.toContain('step 3/3')
  })

  it('a timeout during a step fails the workflow as timed out and skips the rest', async () => {
    const c = new AbortController()
    const p = run(
      'workflow',
      { steps: [{ action: 'script', payload: { command: ['sleep', '30'] } }, touch('after')] },
      { signal: c.signal, onLog: (t) => t.startsWith('$ sleep') && c.abort(new ActionTimeout(50)) },
    )
    const r = await p
    expect(r).toMatchObject({ ok: false, timedOut: true })
    expect(fs.existsSync(path.join(dir, 'after'))).toBe(false)
  })

  it('mixes action types (script then api failure)', async () => {
    const r = await run('workflow', {
      steps: [touch('a'), { action: 'api', payload: { url: 'http://127.0.0.1:1/', timeoutMs: 2000 } }],
    })
    expect(r.ok).toBe(false)
    expect(r.error).toContain('step 2/2 (api) failed: request failed')
  })
})

describe('workflow payload validation', () => {
  it.each([
    ['no steps', {}, 'payload.steps', 'must be a non-empty array'],
    ['empty steps', { steps: [] }, 'payload.steps', 'must be a non-empty array'],
    ['a step that is not an object', { steps: [5] }, 'payload.steps[0]', 'must be an object'],
    [
      'an unknown action',
      { steps: [{ action: 'email', payload: {} }] },
      'payload.steps[0].action',
      'must be one of',
    ],
    [
      'a nested workflow',
      { steps: [{ action: 'workflow', payload: { steps: [] } }] },
      'payload.steps[0].action',
      'cannot be another workflow',
    ],
    [
      'a bad step payload',
      {
        steps: [
          { action: 'script', payload: { command: ['true'] } },
          { action: 'script', payload: { command: 'ls' } },
        ],
      },
      'payload.steps[1].payload.command',
      'shell: true',
    ],
    [
      'a bad api step',
      { steps: [{ action: 'api', payload: { url: 'ftp://x' } }] },
      'payload.steps[0].payload.url',
      'http or https',
    ],
  ])('rejects %s', (_name, payload, pathName, message) => {
    const errors = actionErrors(registry, 'workflow', payload)
    expect(errors.map((e) => e.path)).toContain(pathName)
    expect(errors.find((e) => e.path === pathName)?.message).toContain(message)
  })

  it('rejects too many steps', () => {
    const steps = Array.from({ length: 51 }, () => ({ action: 'script', payload: { command: ['true'] } }))
    expect(actionErrors(registry, 'workflow', { steps })[0]).toMatchObject({ path: 'payload.steps' })
  })

  it('validateAction throws a ValidationError with all field errors, and names unknown action types', () => {
    expect(() => validateAction(registry, 'workflow', { steps: [{ action: 'nope' }] })).toThrow(
      ValidationError,
    )
    expect(actionErrors(registry, 'teleport', {})).toEqual([
      { path: 'action', message: 'must be one of agent, script, api, device, workflow, got "teleport"' },
    ])
    expect(validateAction(registry, 'api', { url: 'http://h/', method: 'post', body: {} })).toMatchObject({
      method: 'POST',
    })
  })
})
