// What runs as whom. A root server runs agents and script tasks as `nobody` unless
// told otherwise, so an operator's agent (or an operator's scheduled `agent`
// action) can read neither the server's start-up environment (/proc/<pid>/environ)
// nor its data directory (JWT secret, SQLite file). Where children share the
// server's user (MYNTRIX_CHILD_USER=root here), only admins decide what they run.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/errors.js'
import type { SchedulerArea } from '../../../src/modules/scheduler/index.js'
import { childWorkspace, resolveChildUser, secureDataDir } from '../../../src/process/child-user.js'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { runTaskToEnd } from '../scheduler/helpers.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('skipping child-user agent tests: they need root to switch users')

describe('resolveChildUser', () => {
  it('defaults to nobody on a root server and to the server’s own user otherwise', () => {
    expect(resolveChildUser(undefined, 0)).toMatchObject({ uid: 65534, name: 'nobody' })
    expect(resolveChildUser('', 0)).toMatchObject({ uid: 65534, name: 'nobody' })
    expect(resolveChildUser(undefined, 1000)).toBeUndefined()
  })

  it('reads names from passwd and uid:gid pairs; the server’s own user means no switch', () => {
    expect(resolveChildUser('1000:1001', 0)).toMatchObject({ uid: 1000, gid: 1001 })
    expect(resolveChildUser('nobody', 0)).toMatchObject({ uid: 65534, name: 'nobody' })
    expect(resolveChildUser('root', 0)).toBeUndefined()
    expect(resolveChildUser('0:0', 0)).toBeUndefined()
    expect(resolveChildUser('nobody', 65534)).toBeUndefined()
  })

  it('rejects an unknown name', () => {
    expect(() => resolveChildUser('no-such-user-here', 0)).toThrow(ConfigError)
  })
})

describe('childWorkspace', () => {
  it('starts another user in its home when it exists, else in /; HOME as passwd says', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-home-'))
    try {
      expect(childWorkspace({ uid: 1, gid: 1, name: 'x', home })).toEqual({ cwd: home, home })
      expect(childWorkspace({ uid: 1, gid: 1, name: 'x', home: '/nonexistent' })).toEqual({
        cwd: '/',
        home: '/nonexistent',
      })
      expect(childWorkspace({ uid: 1, gid: 1, name: '1:1', home: null })).toEqual({ cwd: '/', home: '/' })
      const server = { cwd: '/srv', home: '/root' }
      expect(childWorkspace(undefined, server)).toEqual(server)
    } finally {
      fs.rmSync(home, { recursive: true, force: true })
    }
  })
})

describe('secureDataDir', () => {
  it('creates the data directory 0700 and tightens a looser one', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-data-'))
    try {
      const fresh = path.join(parent, 'fresh')
      expect(secureDataDir(fresh)).toBeNull()
      expect(fs.statSync(fresh).mode & 0o777).toBe(0o700)
      const loose = path.join(parent, 'loose')
      fs.mkdirSync(loose, { mode: 0o755 })
      fs.chmodSync(loose, 0o755)
      expect(secureDataDir(loose)).toBeNull()
      expect(fs.statSync(loose).mode & 0o777).toBe(0o700)
      // Someone else's directory is reported, not taken over.
      expect(secureDataDir(loose, 12345)).toMatch(/belongs to uid/)
    } finally {
      fs.rmSync(parent, { recursive: true, force: true })
    }
  })
})

/** A shell line that reports, one line each, whether the secrets can be read. */
function probeScript(dataDir: string): string {
  const tryRead = (label: string, file: string) =>
    `if cat '${file}' >/dev/null 2>&1; then echo ${label}:readable; else echo ${label}:denied; fi`
  return [
    'echo uid:$(id -u)',
    tryRead('secret', path.join(dataDir, 'jwt-secret')),
    tryRead('database', path.join(dataDir, 'myntrix.db')),
    tryRead('environ', `/proc/${process.pid}/environ`),
    'echo probe:done',
  ].join('; ')
}

const DENIED = ['uid:65534', 'secret:denied', 'database:denied', 'environ:denied']

async function createProbe(t: TestApp, as: TestUser) {
  return t.request('POST', '/api/myntrix/agents', {
    as,
    body: {
      name: 'probe',
      configuration: { command: ['/bin/sh', '-c', probeScript(t.config.dataDir)], restartPolicy: 'never' },
    },
  })
}

describe.skipIf(!isRoot).each(testEngines())('children by default on a root server, on $name', (engine) => {
  let t: TestApp
  beforeAll(async () => {
    // No MYNTRIX_CHILD_USER: the default configuration.
    t = await createTestApp(engine)
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('runs as nobody, with the data directory private to the server', () => {
    expect(t.config.children.user).toMatchObject({ uid: 65534, name: 'nobody' })
    expect(fs.existsSync(path.join(t.config.dataDir, 'jwt-secret'))).toBe(true)
    expect(fs.statSync(t.config.dataDir).mode & 0o077).toBe(0)
  })

  it("an operator's agent cannot read the JWT secret, the database or the server's environment", async () => {
    const created = await createProbe(t, t.operator)
    expect(created.status).toBe(201)
    const id = created.body.id
    const done = new Promise<void>((resolve) => {
      const off = t.app.myntrix.context.bus.on('agent.log', (e) => {
        if (e.agentId === id && e.line === 'probe:done') {
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
    expect(lines).toEqual(expect.arrayContaining(DENIED))
    // The agent started in / (nobody has no home), not in the server's directory.
    expect((await t.request('GET', `/api/myntrix/agents/${id}`, { as: t.operator })).body.status).not.toBe(
      'error',
    )
  })

  it("an operator's scheduled `agent` action cannot read them either", async () => {
    const agent = await createProbe(t, t.operator)
    const task = await t.request('POST', '/api/myntrix/tasks', {
      as: t.operator,
      body: {
        name: 'probe-run',
        schedule: '@yearly',
        action: 'agent',
        payload: { agentId: agent.body.id, operation: 'run' },
      },
    })
    expect(task.status).toBe(201)
    const run = await runTaskToEnd(t, task.body.id, t.operator)
    expect(run.status).toBe('success')
    for (const line of DENIED) expect(run.logs).toContain(line)
  })

  it('an agent whose cwd is the data directory still cannot read what is in it', async () => {
    // The switch to the child user happens after the chdir (libuv), so the start
    // succeeds; every lookup through the directory is still the child user's.
    const created = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: {
        name: 'inside',
        configuration: {
          command: [
            '/bin/sh',
            '-c',
            'cat jwt-secret || echo relative:denied; ls . || echo list:denied; echo probe:done',
          ],
          cwd: t.config.dataDir,
          restartPolicy: 'never',
        },
      },
    })
    const id = created.body.id
    const done = new Promise<void>((resolve) => {
      const off = t.app.myntrix.context.bus.on('agent.log', (e) => {
        if (e.agentId === id && e.line === 'probe:done') {
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
    expect(lines).toEqual(expect.arrayContaining(['relative:denied', 'list:denied']))
    const secret = fs.readFileSync(path.join(t.config.dataDir, 'jwt-secret'), 'utf8').trim()
    expect(lines.join('\n')).not.toContain(secret)
  })

  it('script tasks run as nobody too, in /', async () => {
    const task = await t.request('POST', '/api/myntrix/tasks', {
      as: t.admin,
      body: {
        name: 'whoami',
        schedule: '@yearly',
        action: 'script',
        payload: { command: ['sh', '-c', 'id -u; pwd'] },
      },
    })
    expect(task.status).toBe(201)
    const done = await runTaskToEnd(t, task.body.id, t.admin)
    expect(done.status).toBe('success')
    expect(done.logs).toMatch(/^65534$/m)
    expect(done.logs).toMatch(/^\/$/m)
  })
})

describe.each(testEngines())(
  'children sharing the server’s user (MYNTRIX_CHILD_USER=root), on $name',
  (engine) => {
    // The server's own user: `root` here, as in CI.
    const sameUser = {
      MYNTRIX_CHILD_USER: isRoot ? 'root' : `${process.getuid?.()}:${process.getgid?.()}`,
      MYNTRIX_TRUST_OPERATORS: 'false',
    }
    let t: TestApp | null = null
    afterEach(async () => {
      await t?.dispose()
      t = null
    })

    function expectRefused(res: {
      status: number
      headers: Record<string, unknown>
      body: { detail?: string }
    }) {
      expect(res.status).toBe(403)
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
      expect(res.body.detail).toMatch(/server's own OS user/)
    }

    it('refuses an operator creating an agent or changing its configuration, with the reason', async () => {
      t = await createTestApp(engine, { env: sameUser })
      expect(t.config.children.user).toBeUndefined()
      expectRefused(await createProbe(t, t.operator))
      const mine = await createProbe(t, t.admin)
      expect(mine.status).toBe(201)
      // Admins decide; an admin's own agent starts.
      const started = await t.request('POST', `/api/myntrix/agents/${mine.body.id}/start`, { as: t.admin })
      expect(started.status).toBe(200)
      await t.request('POST', `/api/myntrix/agents/${mine.body.id}/stop`, { as: t.admin })
      expect((await t.request('GET', '/api/myntrix/agents', { as: t.operator })).body).toEqual([])
    })

    it('refuses starting an agent an operator configured earlier, by any path: API, task, start-up', async () => {
      // Configured while children ran as nobody...
      t = await createTestApp(engine)
      const agent = await createProbe(t, t.operator)
      expect(agent.status).toBe(201)
      const id = agent.body.id
      const task = await t.request('POST', '/api/myntrix/tasks', {
        as: t.operator,
        body: {
          name: 'starter',
          schedule: '@yearly',
          action: 'agent',
          payload: { agentId: id, operation: 'start' },
        },
      })
      expect(task.status).toBe(201)
      // ...and meant to run: the next start would resume it.
      await t.database.db
        .updateTable('agents')
        .set({ desiredState: 'running' })
        .where('id', '=', id)
        .execute()
      await t.close()

      // ...then the server is configured so that children share its user.
      t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false, env: sameUser })
      const resumed = (await t.request('GET', `/api/myntrix/agents/${id}`, { as: t.operator })).body
      expect(resumed).toMatchObject({ status: 'error', pid: null })
      expect(resumed.statusReason).toMatch(/only an admin may start/)
      expectRefused(await t.request('POST', `/api/myntrix/agents/${id}/start`, { as: t.operator }))
      expectRefused(await t.request('POST', `/api/myntrix/agents/${id}/restart`, { as: t.operator }))
      expectRefused(
        await t.request('PUT', `/api/myntrix/agents/${id}`, {
          as: t.operator,
          body: { configuration: { command: ['true'] } },
        }),
      )
      // Where it runs is part of what it runs (another host's files, as that server's user).
      expectRefused(
        await t.request('PUT', `/api/myntrix/agents/${id}`, { as: t.operator, body: { nodeAffinity: null } }),
      )
      // A harmless change is still the owner's to make.
      expect(
        (await t.request('PUT', `/api/myntrix/agents/${id}`, { as: t.operator, body: { name: 'renamed' } }))
          .status,
      ).toBe(200)
      // The task made earlier: refused at run now, and refused at run time if it fires.
      expectRefused(await t.request('POST', `/api/myntrix/tasks/${task.body.id}/run`, { as: t.operator }))
      // As the cron firing would: straight to the engine, past the API's check.
      const scheduler = t.app.myntrix.areas.find((a) => a.name === 'scheduler') as SchedulerArea
      const stored = await scheduler.service.get({ ...t.admin, role: 'admin', via: 'token' }, task.body.id)
      const run = await scheduler.engine.runNow(stored)
      const finished = await waitFor(
        async () => {
          const r = (await t!.request('GET', `/api/myntrix/tasks/runs/${run.id}`, { as: t!.operator })).body
          return ['success', 'failed'].includes(r.status) ? r : null
        },
        { what: 'the run to end' },
      )
      expect(finished.status).toBe('failed')
      expect(finished.logs).toMatch(/only an admin may start/)
      expect((await t.request('GET', `/api/myntrix/agents/${id}`, { as: t.operator })).body.pid).toBeNull()
    })

    it('MYNTRIX_TRUST_OPERATORS=true lets operators make agents anyway (single-user machines)', async () => {
      t = await createTestApp(engine, { env: { ...sameUser, MYNTRIX_TRUST_OPERATORS: 'true' } })
      expect(t.config.children.user).toBeUndefined()
      expect((await createProbe(t, t.operator)).status).toBe(201)
    })

    it('refuses an operator creating tasks that start agents, also as workflow steps', async () => {
      t = await createTestApp(engine, { env: sameUser })
      const agent = await createProbe(t, t.admin)
      const body = (action: string, payload: unknown) => ({ name: 'x', schedule: '@yearly', action, payload })
      for (const operation of ['start', 'restart', 'run']) {
        expectRefused(
          await t.request('POST', '/api/myntrix/tasks', {
            as: t.operator,
            body: body('agent', { agentId: agent.body.id, operation }),
          }),
        )
      }
      expectRefused(
        await t.request('POST', '/api/myntrix/tasks', {
          as: t.operator,
          body: body('workflow', {
            steps: [{ action: 'agent', payload: { agentId: 'a', operation: 'start' } }],
          }),
        }),
      )
      // Stopping starts nothing.
      const stop = await t.request('POST', '/api/myntrix/tasks', {
        as: t.operator,
        body: body('agent', { agentId: agent.body.id, operation: 'stop' }),
      })
      expect(stop.status).toBe(201)
      expectRefused(
        await t.request('PUT', `/api/myntrix/tasks/${stop.body.id}`, {
          as: t.operator,
          body: { payload: { agentId: agent.body.id, operation: 'start' } },
        }),
      )
    })
  },
)
