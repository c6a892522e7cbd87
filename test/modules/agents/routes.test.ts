// The agents API through HTTP (app.inject), on every engine, with real processes.
import { spawn } from 'node:child_process'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EventMap } from '../../../src/events/bus.js'
import type { AgentsArea } from '../../../src/modules/agents/index.js'
import { encodeStartTime } from '../../../src/process/identity.js'
import { readProcStat } from '../../../src/process/proc.js'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { isAlive, node } from './helpers.js'

const AGENTS = '/api/myntrix/agents'
// Short intervals so health and backoff show within a test.
const env = {
  MYNTRIX_AGENT_SAMPLE_INTERVAL_MS: '100',
  MYNTRIX_AGENT_BACKOFF_INITIAL_MS: '20',
  MYNTRIX_AGENT_BACKOFF_MAX_MS: '100',
}

function areaOf(t: TestApp): AgentsArea {
  return t.app.myntrix.areas.find((a) => a.name === 'agents') as AgentsArea
}

/** Resolves with the first bus event of `name` that matches (only future events). */
function nextEvent<K extends keyof EventMap>(
  t: TestApp,
  name: K,
  match: (e: EventMap[K]) => boolean,
): Promise<EventMap[K]> {
  return new Promise((resolve) => {
    const off = t.app.myntrix.context.bus.on(name, (e) => {
      if (match(e)) {
        off()
        resolve(e)
      }
    })
  })
}

describe.each(testEngines())('agents API on $name', (engine) => {
  let t: TestApp

  beforeEach(async () => {
    t = await createTestApp(engine, { env })
  })
  afterEach(async () => {
    await t.dispose()
  })

  async function create(body: Record<string, unknown>, as: TestUser = t.operator) {
    const res = await t.request('POST', AGENTS, { as, body: { name: 'agent', ...body } })
    expect(res.status).toBe(201)
    return res.body as Record<string, any>
  }

  const act = (id: string, action: string, as: TestUser = t.operator) =>
    t.request('POST', `${AGENTS}/${id}/${action}`, { as })

  describe('CRUD', () => {
    it('requires authentication', async () => {
      expect((await t.request('GET', AGENTS)).status).toBe(401)
    })

    it('creates a stopped agent with the seed fields and lists it', async () => {
      const a = await create({
        name: 'crawler',
        type: 'llm',
        configuration: { command: 'node x.js', model: 'm' },
      })
      expect(a).toMatchObject({
        name: 'crawler',
        type: 'llm',
        status: 'stopped',
        desiredState: 'stopped',
        health: 0,
        lastRun: null,
        configuration: { command: 'node x.js', model: 'm' },
        ownerId: t.operator.id,
        pid: null,
        restarts: 0,
        lastExit: null,
      })
      expect(a.createdAt).toMatch(/Z$/)
      const list = await t.request('GET', AGENTS, { as: t.operator })
      expect(list.status).toBe(200)
      expect(list.headers['x-total-count']).toBe('1')
      expect(list.body.map((x: { id: string }) => x.id)).toEqual([a.id])
      expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body.name).toBe('crawler')
    })

    it('defaults the type and accepts an agent without configuration', async () => {
      const a = await create({})
      expect(a.type).toBe('generic')
      expect(a.configuration).toEqual({})
    })

    it('updates name, type and configuration with PUT', async () => {
      const a = await create({ configuration: { command: 'a' } })
      const res = await t.request('PUT', `${AGENTS}/${a.id}`, {
        as: t.operator,
        body: { name: 'renamed', configuration: { command: ['b'], restartPolicy: 'never' } },
      })
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ name: 'renamed', type: 'generic', configuration: { command: ['b'] } })
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(a.updatedAt))
    })

    it('answers 400 with the field path for a bad configuration', async () => {
      const res = await t.request('POST', AGENTS, {
        as: t.operator,
        body: {
          name: 'x',
          configuration: { command: 'node a.js', stopTimeoutMs: -5, restartPolicy: 'often' },
        },
      })
      expect(res.status).toBe(400)
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
      expect(res.body.errors).toEqual([
        {
          path: 'configuration.restartPolicy',
          message: expect.stringContaining('restartPolicy must be one of'),
        },
        { path: 'configuration.stopTimeoutMs', message: 'stopTimeoutMs must be >= 0, got -5' },
      ])
      const put = await t.request('PUT', `${AGENTS}/${(await create({})).id}`, {
        as: t.operator,
        body: { configuration: { healthCheck: { type: 'http', url: 'nope' } } },
      })
      expect(put.status).toBe(400)
      expect(put.body.errors[0].path).toBe('configuration.healthCheck.url')
    })

    it('checks the configuration as sent, and stores it as written', async () => {
      const count = async () =>
        (await t.request('GET', AGENTS, { as: t.admin })).headers['x-total-count'] as string
      const before = await count()
      for (const [configuration, error] of [
        [
          { maxRestarts: '5' },
          { path: 'configuration.maxRestarts', message: 'maxRestarts must be an integer, got "5"' },
        ],
        [
          { runtime: { type: 'docker' } },
          { path: 'configuration.runtime.image', message: expect.any(String) },
        ],
        [
          { healthCheck: { type: 'heartbeat', timeoutMs: 1000, intervalMs: 5 } },
          {
            path: 'configuration.healthCheck.intervalMs',
            message: 'unknown healthCheck field "intervalMs" for type heartbeat',
          },
        ],
        [{ command: [] }, { path: 'configuration.command', message: 'command must not be empty' }],
      ] as const) {
        const res = await t.request('POST', AGENTS, { as: t.operator, body: { name: 'x', configuration } })
        expect(res.status, JSON.stringify(configuration)).toBe(400)
        expect(res.body.errors).toEqual([error])
      }
      expect(await count()).toBe(before)
      // No default is filled into what was stored: the supervisor applies them when it runs the agent.
      const configuration = {
        command: ['node', 'a.js'],
        healthCheck: { type: 'http', url: 'http://127.0.0.1:1/' },
      }
      const a = await create({ configuration })
      expect(a.configuration).toEqual(configuration)
      expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body.configuration).toEqual(
        configuration,
      )
    })

    it('answers 400 for a body without a name, an empty PUT, or a configuration that is not an object', async () => {
      expect((await t.request('POST', AGENTS, { as: t.operator, body: {} })).body.errors[0].path).toBe('name')
      const a = await create({})
      expect((await t.request('PUT', `${AGENTS}/${a.id}`, { as: t.operator, body: {} })).status).toBe(400)
      const bad = await t.request('POST', AGENTS, {
        as: t.operator,
        body: { name: 'x', configuration: 'cmd' },
      })
      expect(bad.status).toBe(400)
    })

    it('hides other owners’ agents (404) and lets admins see all', async () => {
      const a = await create({})
      expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator2 })).status).toBe(404)
      expect((await act(a.id, 'start', t.operator2)).status).toBe(404)
      expect((await t.request('DELETE', `${AGENTS}/${a.id}`, { as: t.operator2 })).status).toBe(404)
      expect((await t.request('GET', AGENTS, { as: t.operator2 })).body).toEqual([])
      expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.admin })).status).toBe(200)
      expect((await t.request('GET', `${AGENTS}/unknown-id`, { as: t.admin })).status).toBe(404)
    })

    it('lets viewers read but not create, change, start, stop or delete', async () => {
      const a = await create({ configuration: { command: node('prints-lines.mjs') } }, t.admin)
      expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.viewer })).status).toBe(404) // not theirs
      expect((await t.request('GET', AGENTS, { as: t.viewer })).status).toBe(200)
      expect((await t.request('POST', AGENTS, { as: t.viewer, body: { name: 'v' } })).status).toBe(403)
      for (const action of ['start', 'stop', 'restart'])
        expect((await act(a.id, action, t.viewer)).status).toBe(403)
      expect(
        (await t.request('PUT', `${AGENTS}/${a.id}`, { as: t.viewer, body: { name: 'v' } })).status,
      ).toBe(403)
      expect((await t.request('DELETE', `${AGENTS}/${a.id}`, { as: t.viewer })).status).toBe(403)
    })

    it('pages with limit and offset', async () => {
      for (let i = 0; i < 3; i++) await create({ name: `a${i}` })
      const res = await t.request('GET', `${AGENTS}?limit=2&offset=1`, { as: t.operator })
      expect(res.body.map((x: { name: string }) => x.name)).toEqual(['a1', 'a2'])
      expect(res.headers['x-total-count']).toBe('3')
    })
  })

  describe('lifecycle', () => {
    it('starting an agent without a command answers 422 saying so', async () => {
      const a = await create({ configuration: { model: 'x' } })
      const res = await act(a.id, 'start')
      expect(res.status).toBe(422)
      expect(res.body.detail).toMatch(/no command/)
      expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body.desiredState).toBe(
        'stopped',
      )
    })

    it('a program that cannot be started answers 422 and leaves the agent in error', async () => {
      const a = await create({ configuration: { command: ['/no/such/program'] } })
      const res = await act(a.id, 'start')
      expect(res.status).toBe(422)
      expect(res.body.detail).toMatch(/ENOENT/)
      const got = (await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body
      expect(got).toMatchObject({ status: 'error', desiredState: 'stopped' })
    })

    it('starts a script, shows its lines in /logs, and start again keeps the same process', async () => {
      const a = await create({ configuration: { command: node('prints-lines.mjs', 3) } })
      const ready = nextEvent(t, 'agent.log', (e) => e.agentId === a.id && e.line === 'ready')
      const res = await act(a.id, 'start')
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ status: 'running', desiredState: 'running', restarts: 0 })
      expect(res.body.pid).toBeGreaterThan(0)
      expect(res.body.lastRun).toBe(res.body.startedAt)
      await ready
      const logs = await t.request('GET', `${AGENTS}/${a.id}/logs?tail=3`, { as: t.operator })
      expect(logs.status).toBe(200)
      expect(logs.body).toHaveLength(3)
      // stdout and stderr are separate pipes: their lines may interleave either way.
      expect(logs.body).toContainEqual(
        expect.objectContaining({ stream: 'stdout', line: 'ready', ts: expect.stringMatching(/Z$/) }),
      )
      const all = await t.request('GET', `${AGENTS}/${a.id}/logs`, { as: t.operator })
      expect(all.body.map((l: { line: string }) => l.line)).toEqual(
        expect.arrayContaining(['line 1', 'line 2', 'line 3', 'ready']),
      )
      expect((await t.request('GET', `${AGENTS}/${a.id}/logs?tail=-1`, { as: t.operator })).status).toBe(400)
      const again = await act(a.id, 'start')
      expect(again.body.pid).toBe(res.body.pid)
    })

    it('stops an agent that ignores SIGTERM with SIGKILL after stopTimeoutMs', async () => {
      const a = await create({ configuration: { command: node('ignores-sigterm.mjs'), stopTimeoutMs: 300 } })
      const ready = nextEvent(t, 'agent.log', (e) => e.agentId === a.id && e.line === 'ready')
      const { pid } = (await act(a.id, 'start')).body
      await ready
      const res = await act(a.id, 'stop')
      expect(res.body).toMatchObject({ status: 'stopped', desiredState: 'stopped', pid: null })
      expect(res.body.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' })
      expect(res.body.statusReason).toMatch(/SIGKILL/)
      expect(isAlive(pid)).toBe(false)
    })

    it('ends a grandchild with its parent', async () => {
      const a = await create({
        configuration: { command: node('spawns-grandchild.mjs'), stopTimeoutMs: 300 },
      })
      const line = nextEvent(t, 'agent.log', (e) => e.agentId === a.id && e.line.startsWith('grandchild '))
      await act(a.id, 'start')
      const grandchild = Number((await line).line.split(' ')[1])
      expect(isAlive(grandchild)).toBe(true)
      await act(a.id, 'stop')
      expect(isAlive(grandchild)).toBe(false)
    })

    it('restart gives a new pid', async () => {
      const a = await create({ configuration: { command: node('prints-lines.mjs') } })
      const first = (await act(a.id, 'restart')).body
      expect(first.status).toBe('running')
      const second = (await act(a.id, 'restart')).body
      expect(second.pid).not.toBe(first.pid)
      expect(second.restarts).toBe(1)
    })

    it('a crashing agent comes back with a new pid and its restarts counted, also in the database', async () => {
      const a = await create({
        configuration: { command: node('crashes-after-ms.mjs', 150), maxRestarts: 50 },
      })
      const back = nextEvent(
        t,
        'agent.status',
        (e) => e.agentId === a.id && e.status === 'running' && e.pid !== first.pid,
      )
      const first = (await act(a.id, 'start')).body
      const event = await back
      expect(event.ownerId).toBe(t.operator.id)
      const got = (await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body
      expect(got.restarts).toBeGreaterThanOrEqual(1)
      expect(got.lastExit).toMatchObject({ code: 1, signal: null })
      await areaOf(t).service.flushWrites()
      const row = await t.database.db
        .selectFrom('agents')
        .selectAll()
        .where('id', '=', a.id)
        .executeTakeFirstOrThrow()
      expect(Number(row.restarts)).toBeGreaterThanOrEqual(1)
    })

    it('a crash loop ends in error with the reason', async () => {
      const a = await create({ configuration: { command: node('crashes-after-ms.mjs', 10), maxRestarts: 2 } })
      const failed = nextEvent(t, 'agent.status', (e) => e.agentId === a.id && e.status === 'error')
      await act(a.id, 'start')
      await failed
      const got = (await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body
      expect(got).toMatchObject({ status: 'error', health: 0, pid: null, restarts: 2 })
      expect(got.statusReason).toMatch(/^crash loop: more than 2 restarts within 60000 ms/)
    })

    it('a missing heartbeat lowers health, with the reason in healthDetails', async () => {
      const a = await create({
        configuration: {
          command: node('heartbeat.mjs', 30, 2),
          healthCheck: { type: 'heartbeat', timeoutMs: 300 },
        },
      })
      const low = nextEvent(
        t,
        'agent.status',
        (e) => e.agentId === a.id && e.status === 'running' && e.health === 60,
      )
      await act(a.id, 'start')
      await low
      const got = (await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body
      expect(got.health).toBe(60)
      expect(got.healthDetails.check).toMatchObject({ score: 0, max: 40 })
      expect(got.healthDetails.check.detail).toMatch(/heartbeat/)
    })

    it('reports CPU and memory of a running agent', async () => {
      const a = await create({ configuration: { command: node('prints-lines.mjs') } })
      await act(a.id, 'start')
      // A sample that changes no score sends no event: poll the API (100 ms sampling here).
      const got = await waitFor(
        async () => {
          const body = (await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body
          return body.memoryBytes !== null ? body : null
        },
        { what: 'a resource sample' },
      )
      expect(got.memoryBytes).toBeGreaterThan(1024 * 1024)
      expect(got.cpuPercent).toEqual(expect.any(Number))
      expect(got.healthDetails.memory.detail).toMatch(/MB, no limit/)
    })

    it('the child cannot read MYNTRIX_JWT_SECRET or the database URL', async () => {
      process.env.MYNTRIX_JWT_SECRET = 'do-not-leak'
      process.env.MYNTRIX_DATABASE_URL = 'postgres://secret@db/x'
      try {
        const a = await create({ configuration: { command: node('prints-env.mjs'), apiKey: 'own-setting' } })
        const line = nextEvent(t, 'agent.log', (e) => e.agentId === a.id && e.line.startsWith('{'))
        await act(a.id, 'start')
        const childEnv = JSON.parse((await line).line)
        expect(childEnv.MYNTRIX_JWT_SECRET).toBeUndefined()
        expect(childEnv.MYNTRIX_DATABASE_URL).toBeUndefined()
        expect(JSON.stringify(childEnv)).not.toContain('do-not-leak')
        expect(childEnv.MYNTRIX_AGENT_ID).toBe(a.id)
        expect(JSON.parse(childEnv.MYNTRIX_AGENT_CONFIG)).toEqual({ apiKey: 'own-setting' })
      } finally {
        delete process.env.MYNTRIX_JWT_SECRET
        delete process.env.MYNTRIX_DATABASE_URL
      }
    })

    it('delete stops the agent, then removes it and its logs', async () => {
      const a = await create({ configuration: { command: node('prints-lines.mjs') } })
      const ready = nextEvent(t, 'agent.log', (e) => e.agentId === a.id && e.line === 'ready')
      const { pid } = (await act(a.id, 'start')).body
      await ready
      const deleted = nextEvent(t, 'agent.deleted', (e) => e.agentId === a.id)
      const res = await t.request('DELETE', `${AGENTS}/${a.id}`, { as: t.operator })
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ message: 'agent deleted', id: a.id })
      await deleted
      expect(isAlive(pid)).toBe(false)
      expect((await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).status).toBe(404)
      expect((await t.request('GET', `${AGENTS}/${a.id}/logs`, { as: t.operator })).status).toBe(404)
    })
  })

  describe('across server restarts', () => {
    it('a rebuilt app on the same database restarts agents whose desired state is running', async () => {
      const running = await create({ name: 'keep', configuration: { command: node('prints-lines.mjs') } })
      const stopped = await create({ name: 'idle', configuration: { command: node('prints-lines.mjs') } })
      const ready = nextEvent(t, 'agent.log', (e) => e.agentId === running.id && e.line === 'ready')
      const { pid } = (await act(running.id, 'start')).body
      await ready
      await t.close() // graceful: agents end, desired states stay
      expect(isAlive(pid)).toBe(false)

      t = await createTestApp(engine, { env, testDb: t.testDb, seedUsers: false })
      const got = (await t.request('GET', `${AGENTS}/${running.id}`, { as: t.operator })).body
      expect(got).toMatchObject({ status: 'running', desiredState: 'running' })
      expect(got.pid).not.toBe(pid)
      expect(isAlive(got.pid)).toBe(true)
      // The lines of the previous run are still readable, from the log file.
      const idle = (await t.request('GET', `${AGENTS}/${stopped.id}`, { as: t.operator })).body
      expect(idle).toMatchObject({ status: 'stopped', pid: null })
    })

    it('after a server was killed, ends the process group it left and starts the agent afresh', async () => {
      const a = await create({
        configuration: { command: node('spawns-grandchild.mjs'), stopTimeoutMs: 300 },
      })
      await t.close()
      // What a SIGKILLed server leaves: a running process group, recorded in the row.
      const orphan = spawn(process.execPath, node('spawns-grandchild.mjs').slice(1), {
        detached: true,
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      const grandchild = await new Promise<number>((resolve) => {
        let buf = ''
        orphan.stdout!.on('data', (c: Buffer) => {
          buf += c.toString()
          const m = /grandchild (\d+)/.exec(buf)
          if (m) resolve(Number(m[1]))
        })
      })
      const identity = { pid: orphan.pid!, startTicks: readProcStat(orphan.pid!)!.startTicks, bootId: null }
      const db = t.testDb.open()
      await db.db
        .updateTable('agents')
        .set({
          status: 'running',
          desiredState: 'running',
          pid: identity.pid,
          pidStartTime: encodeStartTime(identity),
        })
        .where('id', '=', a.id)
        .execute()
      await db.close()

      const exited = new Promise((r) => orphan.once('exit', r))
      t = await createTestApp(engine, { env, testDb: t.testDb, seedUsers: false })
      await exited
      expect(isAlive(grandchild)).toBe(false)
      const got = (await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body
      expect(got.status).toBe('running')
      expect(got.pid).not.toBe(identity.pid)
    })

    it('leaves a recorded pid alone when it now belongs to another process', async () => {
      const a = await create({ configuration: { command: node('prints-lines.mjs') } })
      await t.close()
      const stranger = spawn(process.execPath, node('prints-lines.mjs').slice(1), { stdio: 'ignore' })
      try {
        await new Promise((r) => stranger.once('spawn', r))
        const startTicks = readProcStat(stranger.pid!)!.startTicks
        const db = t.testDb.open()
        await db.db
          .updateTable('agents')
          .set({ status: 'running', pid: stranger.pid!, pidStartTime: String(startTicks - 1) })
          .where('id', '=', a.id)
          .execute()
        await db.close()
        t = await createTestApp(engine, { env, testDb: t.testDb, seedUsers: false })
        expect(isAlive(stranger.pid!)).toBe(true)
        const got = (await t.request('GET', `${AGENTS}/${a.id}`, { as: t.operator })).body
        expect(got).toMatchObject({ status: 'stopped', pid: null })
      } finally {
        const gone = new Promise((r) => stranger.once('exit', r))
        stranger.kill('SIGKILL')
        await gone
      }
    })
  })

  describe('live log feed', () => {
    async function connect(agentId: string, token: string | null, query = '') {
      const messages: Array<Record<string, any>> = []
      const waiters: Array<() => void> = []
      let closeCode: number | null = null
      const ws = await t.app.injectWS(
        `/ws/myntrix/agents/${agentId}/logs${query}`,
        token ? { headers: { authorization: `Bearer ${token}` } } : {},
        {
          onInit: (socket) => {
            socket.on('message', (data) => {
              messages.push(JSON.parse(String(data)))
              for (const w of waiters.splice(0)) w()
            })
            socket.on('close', (code) => {
              closeCode = code
              for (const w of waiters.splice(0)) w()
            })
          },
        },
      )
      const waitFor = async (match: (m: Record<string, any>) => boolean) => {
        for (;;) {
          const found = messages.find(match)
          if (found) return found
          await new Promise<void>((resolve) => waiters.push(resolve))
        }
      }
      const closed = async () => {
        while (closeCode === null) await new Promise<void>((resolve) => waiters.push(resolve))
        return closeCode
      }
      return { ws, messages, waitFor, closed }
    }

    it('sends status and recent lines first, then new lines and status changes', async () => {
      const a = await create({ configuration: { command: node('prints-lines.mjs', 2) } })
      const ready = nextEvent(t, 'agent.log', (e) => e.agentId === a.id && e.line === 'ready')
      await act(a.id, 'start')
      await ready
      const client = await connect(a.id, t.operator.token, '?tail=2')
      const first = await client.waitFor((m) => m.type === 'status')
      expect(first).toMatchObject({ agentId: a.id, payload: { status: 'running' } })
      await client.waitFor((m) => m.type === 'log' && m.payload === 'ready')
      const backlog = client.messages.filter((m) => m.type === 'log')
      expect(backlog).toHaveLength(2)
      expect(backlog[0]).toMatchObject({
        agentId: a.id,
        stream: expect.any(String),
        ts: expect.stringMatching(/Z$/),
      })

      await act(a.id, 'restart')
      await client.waitFor((m) => m.type === 'log' && m.payload === 'line 1')
      await client.waitFor((m) => m.type === 'status' && m.payload.status === 'restarting')
      client.ws.terminate()
    })

    it('closes with 4404 for an unknown or foreign agent', async () => {
      const a = await create({})
      const foreign = await connect(a.id, t.operator2.token)
      expect(await foreign.closed()).toBe(4404)
      const unknown = await connect('nope', t.operator.token)
      expect(await unknown.closed()).toBe(4404)
    })
  })
})
