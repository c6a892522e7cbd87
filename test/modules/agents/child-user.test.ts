// MYNTRIX_CHILD_USER: agents run as another OS user, so they can read neither
// the server's start-up environment (/proc/<pid>/environ) nor its data dir.

import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/errors.js'
import { resolveChildUser } from '../../../src/process/child-user.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { runTaskToEnd } from '../scheduler/helpers.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('skipping child-user agent tests: they need root to switch users')

describe('resolveChildUser', () => {
  it('reads names from passwd and uid:gid pairs; rejects unknown names', () => {
    expect(resolveChildUser(undefined)).toBeUndefined()
    expect(resolveChildUser('1000:1001')).toMatchObject({ uid: 1000, gid: 1001 })
    expect(resolveChildUser('nobody')).toMatchObject({ uid: 65534, name: 'nobody' })
    expect(() => resolveChildUser('no-such-user-here')).toThrow(ConfigError)
  })
})

describe.skipIf(!isRoot).each(testEngines().slice(0, 1))('agents as another user on $name', (engine) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_CHILD_USER: 'nobody' } })
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('runs the agent as that user, unable to read the server environment or the JWT secret', async () => {
    const secretFile = path.join(t.config.dataDir, 'jwt-secret')
    expect(fs.existsSync(secretFile)).toBe(true)
    const script = [
      'id -u',
      `cat /proc/${process.pid}/environ >/dev/null 2>&1 && echo environ:readable || echo environ:denied`,
      `cat ${secretFile} >/dev/null 2>&1 && echo secret:readable || echo secret:denied`,
      'echo done',
    ].join('; ')
    const created = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: {
        name: 'probe',
        configuration: { command: ['/bin/sh', '-c', script], cwd: '/', restartPolicy: 'never' },
      },
    })
    const id = created.body.id
    const done = new Promise<void>((resolve) => {
      const off = t.app.myntrix.context.bus.on('agent.log', (e) => {
        if (e.agentId === id && e.line === 'done') {
          off()
          resolve()
        }
      })
    })
    expect((await t.request('POST', `/api/myntrix/agents/${id}/start`, { as: t.operator })).status).toBe(200)
    await done
    const lines = (await t.request('GET', `/api/myntrix/agents/${id}/logs`, { as: t.operator })).body.map(
      (l: { line: string }) => l.line,
    )
    expect(lines).toEqual(expect.arrayContaining(['65534', 'environ:denied', 'secret:denied']))
  })

  it('runs script tasks as that user too', async () => {
    const task = await t.request('POST', '/api/myntrix/tasks', {
      as: t.admin,
      body: {
        name: 'whoami',
        schedule: '@yearly',
        action: 'script',
        payload: { command: ['id', '-u'], cwd: '/' },
      },
    })
    expect(task.status).toBe(201)
    const done = await runTaskToEnd(t, task.body.id, t.admin)
    expect(done.status).toBe('success')
    expect(done.logs).toMatch(/^65534$/m)
  })
})
