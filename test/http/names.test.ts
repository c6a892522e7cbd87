// Names of agents, devices, tasks, API keys and users refuse control characters
// (C0, DEL, C1) and bidirectional overrides/isolates, on create and on update,
// with a 400 naming the field; nothing is stored. Ordinary text in any script passes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NAME_PATTERN, nameProblem } from '../../src/names.js'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

const UNSAFE = [
  '\u0000',
  '\u0007',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009f',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
  // Invisible format characters (review R7): names that print the same as another.
  '\u200b',
  '\u200c',
  '\u200d',
  '\u200e',
  '\u200f',
  '\u061c',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\u{e0000}',
  '\u{e0041}',
  '\u{e007f}',
]
const SAFE = ['Drucker Ü 3D 🖨', 'طابعة', 'プリンタ', "o'brien; DROP TABLE x", 'a\u{e0080}b', '\u{1f600}x']

describe('the name rule', () => {
  it('names the character and where it is', () => {
    expect(nameProblem('evil\u202eexe.txt')).toMatch(/U\+202E at character 5/)
    for (const c of UNSAFE) expect(nameProblem(`a${c}b`), JSON.stringify(c)).toBeDefined()
    for (const s of SAFE) expect(nameProblem(s), s).toBeUndefined()
  })

  it('is the same rule as the schema pattern', () => {
    const pattern = new RegExp(NAME_PATTERN, 'u')
    for (const c of UNSAFE) expect(pattern.test(`a${c}b`)).toBe(false)
    for (const s of SAFE) expect(pattern.test(s)).toBe(true)
  })
})

describe.each(testEngines())('names on $name', (engine) => {
  let t: TestApp
  const ids: Record<string, string> = {}
  beforeAll(async () => {
    t = await createTestApp(engine)
    ids.agents = (
      await t.request('POST', '/api/myntrix/agents', { as: t.operator, body: { name: 'a' } })
    ).body.id
    ids.devices = (
      await t.request('POST', '/api/myntrix/devices', {
        as: t.operator,
        body: { name: 'd', connectionString: 'sim://marlin' },
      })
    ).body.id
    ids.tasks = (
      await t.request('POST', '/api/myntrix/tasks', {
        as: t.operator,
        body: {
          name: 't',
          schedule: '0 0 1 1 *',
          action: 'agent',
          payload: { agentId: ids.agents, operation: 'stop' },
          enabled: false,
        },
      })
    ).body.id
  })
  afterAll(async () => {
    await t.dispose()
  })

  const creates = (name: string) =>
    [
      ['/api/myntrix/agents', 'name', { name }],
      ['/api/myntrix/devices', 'name', { name, connectionString: 'sim://marlin' }],
      [
        '/api/myntrix/tasks',
        'name',
        {
          name,
          schedule: '0 0 1 1 *',
          action: 'agent',
          payload: { agentId: 'x', operation: 'stop' },
          enabled: false,
        },
      ],
      ['/api/auth/api-keys', 'name', { name }],
      ['/api/auth/users', 'username', { username: name, password: 'password-1', role: 'viewer' }],
    ] as const

  it('refuses every unsafe character in every name on create, with 400 naming the field', async () => {
    for (const c of UNSAFE) {
      for (const [url, field, body] of creates(`name${c}x`)) {
        const as = url === '/api/auth/users' ? t.admin : t.operator
        const before = await t.request('GET', url, { as })
        const res = await t.request('POST', url, { as, body })
        expect(res.status, `${url} ${JSON.stringify(c)}: ${res.text}`).toBe(400)
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
        expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field)
        const after = await t.request('GET', url, { as })
        expect(after.headers['x-total-count']).toBe(before.headers['x-total-count'])
      }
    }
  })

  it('refuses them on update too and keeps the old name', async () => {
    for (const c of ['\u202e', '\u0085', '\u0000']) {
      for (const area of ['agents', 'devices', 'tasks']) {
        const url = `/api/myntrix/${area}/${ids[area]}`
        const before = (await t.request('GET', url, { as: t.operator })).body.name
        const res = await t.request('PUT', url, { as: t.operator, body: { name: `x${c}` } })
        expect(res.status, `${area} ${JSON.stringify(c)}: ${res.text}`).toBe(400)
        expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('name')
        expect((await t.request('GET', url, { as: t.operator })).body.name).toBe(before)
      }
    }
  })

  it('says the rule, not the pattern', async () => {
    const res = await t.request('POST', '/api/myntrix/agents', { as: t.operator, body: { name: 'a\u202eb' } })
    expect(res.body.errors).toEqual([{ path: 'name', message: expect.stringContaining('bidirectional') }])
    const task = await t.request('POST', '/api/myntrix/tasks', {
      as: t.operator,
      body: {
        name: 'a\u202eb',
        schedule: '0 0 1 1 *',
        action: 'agent',
        payload: { agentId: 'x', operation: 'stop' },
      },
    })
    expect(task.body.errors).toEqual([
      { path: 'name', message: expect.stringContaining('U+202E at character 2') },
    ])
  })

  it('accepts names in any script', async () => {
    for (const name of SAFE) {
      // Usernames have their own, narrower alphabet (letters, digits, _ . @ -).
      for (const [url, , body] of creates(name).filter(([url]) => url !== '/api/auth/users')) {
        const res = await t.request('POST', url, { as: t.operator, body })
        expect(res.status, `${url} ${name}: ${res.text}`).toBe(201)
      }
    }
  })
})
