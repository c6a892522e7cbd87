// Container agents end to end against the real Docker engine: through the API
// (app.inject) on every database engine, and through a real server killed with
// SIGKILL. Skipped with a printed reason where Docker is absent (never under CI).
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EventMap } from '../../../src/events/bus.js'
import type { AgentsArea } from '../../../src/modules/agents/index.js'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { killServers, startServer } from '../../helpers/crash-server.js'
import { docker, removeNodeContainers, testImage, whyNoDocker } from '../../helpers/docker.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { node as nodeFixture } from './helpers.js'

const noDocker = await whyNoDocker()
if (noDocker) console.warn(`Docker agent tests skipped: ${noDocker}`)
const image = noDocker ? '' : await testImage()
/** This file's node name: its servers adopt and remove only these containers. */
const nodeName = `test-agents-${process.pid}-${Date.now().toString(36)}`
afterAll(async () => {
  if (!noDocker) await removeNodeContainers(nodeName)
})

const AGENTS = '/api/myntrix/agents'
const env = {
  MYNTRIX_AGENT_SAMPLE_INTERVAL_MS: '100',
  MYNTRIX_AGENT_BACKOFF_INITIAL_MS: '20',
  MYNTRIX_AGENT_BACKOFF_MAX_MS: '100',
  MYNTRIX_NODE_NAME: nodeName,
}

async function containersOf(agentId: string): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`myntrix.node=${nodeName}`, `myntrix.agent=${agentId}`] },
  })
  return list.map((c) => c.Id)
}

function runtime(command: string, more: Record<string, unknown> = {}) {
  return { type: 'docker', image, command: ['sh', '-c', command], ...more }
}

describe.skipIf(noDocker).each(testEngines())('container agents through the API on $name', (engine) => {
  let t: TestApp

  beforeEach(async () => {
    t = await createTestApp(engine, { env })
  })
  afterEach(async () => {
    await t.dispose()
  })

  function nextEvent<K extends keyof EventMap>(name: K, match: (e: EventMap[K]) => boolean) {
    return new Promise<EventMap[K]>((resolve) => {
      const off = t.app.myntrix.context.bus.on(name, (e) => {
        if (match(e)) {
          off()
          resolve(e)
        }
      })
    })
  }

  async function create(configuration: Record<string, unknown>, as: TestUser = t.operator) {
    return t.request('POST', AGENTS, {
      as,
      body: { name: 'boxed', configuration: { stopTimeoutMs: 500, ...configuration } },
    })
  }

  const act = (id: string, action: string) =>
    t.request('POST', `${AGENTS}/${id}/${action}`, { as: t.operator })
  const get = async (id: string) => (await t.request('GET', `${AGENTS}/${id}`, { as: t.operator })).body

  it('lists the Docker runtime as available, with the engine version', async () => {
    const res = await t.request('GET', '/api/myntrix/runtimes', { as: t.viewer })
    expect(res.status).toBe(200)
    expect(res.body).toContainEqual(expect.objectContaining({ name: 'process', available: true }))
    expect(res.body).toContainEqual(
      expect.objectContaining({ name: 'docker', available: true, version: expect.stringMatching(/^\d+\./) }),
    )
  })

  it('starts a container agent, streams its output, samples it, and stops and removes it', async () => {
    const created = await create({
      runtime: runtime('echo hello from the box; while true; do sleep 1; done'),
    })
    expect(created.status).toBe(201)
    const id = created.body.id
    const hello = nextEvent('agent.log', (e) => e.agentId === id && e.line === 'hello from the box')
    const started = await act(id, 'start')
    expect(started.status).toBe(200)
    expect(started.body.status).toBe('running')
    await hello
    expect(await containersOf(id)).toEqual([started.body.containerId])
    await waitFor(async () => (await get(id)).memoryBytes > 0, { what: 'a usage sample' })
    const stopped = await act(id, 'stop')
    expect(stopped.body.status).toBe('stopped')
    expect(await containersOf(id)).toEqual([])
  })

  it('restarts a crashing container with backoff until the crash loop puts it in error', async () => {
    const id = (
      await create({ runtime: runtime('echo up; exit 3'), maxRestarts: 2, restartWindowMs: 60_000 })
    ).body.id
    const failed = nextEvent('agent.status', (e) => e.agentId === id && e.status === 'error')
    expect((await act(id, 'start')).status).toBe(200)
    await failed
    const agent = await get(id)
    expect(agent.restarts).toBeGreaterThanOrEqual(2)
    expect(agent.lastExit).toMatchObject({ code: 3, oomKilled: false })
    await waitFor(async () => (await containersOf(id)).length === 0, {
      what: 'the crashed containers removed',
    })
  })

  it('reports an OOM kill at memoryMb in statusReason and lastExit, also as stored', async () => {
    // A shell variable doubled until it passes the engine's limit.
    const id = (
      await create({
        runtime: runtime('x=a; while true; do x="$x$x"; done', { memoryMb: 8 }),
        restartPolicy: 'never',
      })
    ).body.id
    const failed = nextEvent('agent.status', (e) => e.agentId === id && e.status === 'error')
    expect((await act(id, 'start')).status).toBe(200)
    await failed
    const agent = await get(id)
    expect(agent.statusReason).toMatch(/OOM/)
    expect(agent.lastExit).toMatchObject({ signal: 'SIGKILL', oomKilled: true })
    expect(agent.containerId).toBeNull()
    // What the next server reads back from the row says the same.
    const agents = t.app.myntrix.areas.find((a) => a.name === 'agents') as AgentsArea
    await agents.service.flushWrites()
    const stored = await agents.service.repository.get(id)
    expect(stored?.lastExit).toMatchObject({ signal: 'SIGKILL', oomKilled: true })
  })

  it('restarts a container removed behind its back', async () => {
    const id = (await create({ runtime: runtime('while true; do sleep 1; done'), restartPolicy: 'always' }))
      .body.id
    expect((await act(id, 'start')).status).toBe(200)
    const [first] = await containersOf(id)
    const back = nextEvent('agent.status', (e) => e.agentId === id && e.status === 'running')
    await docker.getContainer(first).remove({ force: true })
    await back
    const agent = await get(id)
    expect(agent.restarts).toBe(1)
    const now = await containersOf(id)
    expect(now).toHaveLength(1)
    expect(now[0]).not.toBe(first)
  })

  it('answers 422 naming an image that does not exist, and loses nothing', async () => {
    const id = (await create({ runtime: { type: 'docker', image: 'myntrix-test-absent:9' } })).body.id
    const res = await act(id, 'start')
    expect(res.status).toBe(422)
    expect(res.body.detail).toContain('myntrix-test-absent:9')
    expect((await get(id)).configuration.runtime.image).toBe('myntrix-test-absent:9')
  })

  it('refuses a bad runtime with 400 and the field path', async () => {
    const res = await create({
      runtime: { type: 'docker', image, memoryMb: 1, mounts: [{ source: '/', target: '/h' }] },
    })
    expect(res.status).toBe(400)
    const paths = res.body.errors.map((e: { path: string }) => e.path)
    expect(paths).toContain('configuration.runtime.memoryMb')
    const mount = await create(
      { runtime: { type: 'docker', image, mounts: [{ source: '/proc', target: '/h' }] } },
      t.admin,
    )
    expect(mount.status).toBe(400)
    expect(mount.body.errors).toContainEqual(
      expect.objectContaining({ path: 'configuration.runtime.mounts.0.source' }),
    )
    const data = await create(
      { runtime: { type: 'docker', image, mounts: [{ source: t.config.dataDir, target: '/data' }] } },
      t.admin,
    )
    expect(data.status).toBe(400)
    expect(data.body.errors).toContainEqual({
      path: 'configuration.runtime.mounts.0.source',
      message: `${t.config.dataDir} holds the server's own data`,
    })
  })

  it('lets only an admin give a container a host mount, the host network or root', async () => {
    const rights = [
      { mounts: [{ source: '/srv', target: '/srv' }] },
      { network: 'host' },
      { user: '0' },
      { user: 'root:root' },
    ]
    for (const more of rights) {
      const refused = await create({ runtime: { type: 'docker', image, ...more } })
      expect(refused.status, JSON.stringify(more)).toBe(403)
      const allowed = await create({ runtime: { type: 'docker', image, ...more } }, t.admin)
      expect(allowed.status, JSON.stringify(more)).toBe(201)
    }
  })
})

describe.skipIf(noDocker).each(testEngines())(
  'an admin-only container whose owner was demoted, on $name',
  (engine) => {
    let t: TestApp
    afterEach(async () => {
      await t.dispose()
    })

    it('is refused at every start (API, restart, start-up) with the field named, and nothing runs', async () => {
      t = await createTestApp(engine, { env })
      const password = 'boss-password-1'
      const boss = await t.request('POST', '/api/auth/users', {
        as: t.admin,
        body: { username: 'boss', password, role: 'admin' },
      })
      expect(boss.status).toBe(201)
      const login = async () =>
        (await t.request('POST', '/api/auth/token', { body: { username: 'boss', password } })).body
          .access_token as string
      const created = await t.request('POST', AGENTS, {
        token: await login(),
        body: {
          name: 'hosted',
          configuration: { stopTimeoutMs: 500, runtime: runtime('sleep 600', { network: 'host' }) },
        },
      })
      expect(created.status).toBe(201)
      const id = created.body.id as string
      const demoted = await t.request('PUT', `/api/auth/users/${boss.body.id}`, {
        as: t.admin,
        body: { role: 'operator' },
      })
      expect(demoted.status).toBe(200)

      const token = await login()
      for (const action of ['start', 'restart']) {
        const refused = await t.request('POST', `${AGENTS}/${id}/${action}`, { token })
        expect(refused.status, action).toBe(403)
        expect(refused.headers['content-type']).toMatch(/application\/problem\+json/)
        expect(refused.body.detail).toContain('configuration.runtime.network')
      }
      expect(await containersOf(id)).toEqual([])
      const after = (await t.request('GET', `${AGENTS}/${id}`, { token })).body
      expect(after).toMatchObject({ status: 'stopped', desiredState: 'stopped', containerId: null })

      // Meant to run when the server stops: the next start-up does not start it either.
      const agents = t.app.myntrix.areas.find((a) => a.name === 'agents') as AgentsArea
      await agents.service.repository.setDesiredState(id, 'running')
      await t.close()
      t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false, env })
      const resumed = (await t.request('GET', `${AGENTS}/${id}`, { as: t.admin })).body
      expect(resumed).toMatchObject({ status: 'error', pid: null })
      expect(resumed.statusReason).toContain('configuration.runtime.network')
      expect(await containersOf(id)).toEqual([])
    }, 60_000)
  },
)

describe.skipIf(noDocker).each(testEngines())('without a Docker engine, on $name', (engine) => {
  let t: TestApp
  beforeEach(async () => {
    t = await createTestApp(engine, { env: { ...env, MYNTRIX_DOCKER_HOST: 'unix:///no/such/docker.sock' } })
  })
  afterEach(async () => {
    await t.dispose()
  })

  it('answers 503 with the reason for a container agent while process agents keep working', async () => {
    const boxed = await t.request('POST', AGENTS, {
      as: t.operator,
      body: { name: 'boxed', configuration: { runtime: runtime('true') } },
    })
    const plain = await t.request('POST', AGENTS, {
      as: t.operator,
      body: {
        name: 'plain',
        configuration: { command: nodeFixture('prints-lines.mjs'), stopTimeoutMs: 500 },
      },
    })
    const refused = await t.request('POST', `${AGENTS}/${boxed.body.id}/start`, { as: t.operator })
    expect(refused.status).toBe(503)
    expect(refused.body.detail).toContain('/no/such/docker.sock')
    const started = await t.request('POST', `${AGENTS}/${plain.body.id}/start`, { as: t.operator })
    expect(started.status).toBe(200)
    expect(started.body.status).toBe('running')
    const runtimes = await t.request('GET', '/api/myntrix/runtimes', { as: t.operator })
    expect(runtimes.body).toContainEqual(
      expect.objectContaining({
        name: 'docker',
        available: false,
        reason: expect.stringContaining('/no/such'),
      }),
    )
  })
})

describe.skipIf(noDocker).each(testEngines())(
  'a container agent when its server is killed with SIGKILL, on $name',
  (engine) => {
    let t: TestApp | null = null
    afterEach(async () => {
      await killServers()
      await t?.dispose()
      t = null
    })

    it('is adopted by the next server: same container, no second copy, no restart', async () => {
      t = await createTestApp(engine, { env })
      const created = await t.request('POST', AGENTS, {
        as: t.operator,
        body: {
          name: 'survivor',
          configuration: { stopTimeoutMs: 500, runtime: runtime('while true; do sleep 1; done') },
        },
      })
      const id = created.body.id as string
      const testDb = t.testDb
      await t.close()
      t = null

      const server = await startServer(testDb, env)
      const token = await server.login('operator')
      expect((await server.request('POST', `${AGENTS}/${id}/start`, token)).status).toBe(200)
      const [container] = await containersOf(id)
      expect(container).toBeDefined()
      await server.kill9()
      // The engine holds the container, not the server: it runs on.
      expect((await docker.getContainer(container).inspect()).State.Running).toBe(true)

      t = await createTestApp(engine, { testDb, seedUsers: false, env })
      const again = (await t.request('GET', `${AGENTS}/${id}`, { as: t.operator })).body
      expect(again).toMatchObject({ status: 'running', restarts: 0 })
      expect(await containersOf(id)).toEqual([container])
    }, 120_000)
  },
)
