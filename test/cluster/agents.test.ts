// Agents held by lease across three nodes (three apps on one PostgreSQL
// database and the local Redis, in this test process, each with its own node
// name): an action on any node reaches the holder and answers with its result,
// a process runs exactly once, logs and status are seen from any node, a node
// that restarts never ends a peer's agent, and an unpinned agent whose node
// stops is taken over by a survivor.

import { sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { AGENT_LEASE } from '../../src/modules/agents/clustered-service.js'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'
import { REDIS_URL, redisReachable } from '../helpers/redis.js'
import { isAlive, node } from '../modules/agents/helpers.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres || !hasRedis) console.warn('skipping cluster agent tests: they need PostgreSQL and Redis')

const AGENTS = '/api/myntrix/agents'

describe.skipIf(!postgres || !hasRedis)('agents across three nodes', () => {
  let testDb: TestDatabase
  const apps = new Map<string, TestApp>()

  afterEach(async () => {
    for (const a of apps.values()) await a.close()
    apps.clear()
    await testDb?.drop()
  })

  async function start(name: string) {
    const app = await createTestApp(postgres!, {
      testDb,
      env: {
        MYNTRIX_REDIS_URL: REDIS_URL,
        MYNTRIX_NODE_NAME: name,
        MYNTRIX_LEASE_TTL_MS: '2000',
        MYNTRIX_LEASE_RENEW_MS: '500',
      },
    })
    apps.set(name, app)
    return app
  }

  async function threeNodes() {
    testDb = await postgres!.createDatabase()
    const a = await start('node-a')
    const b = await start('node-b')
    const c = await start('node-c')
    return { a, b, c }
  }

  const nodeOf = (t: TestApp) => t.app.myntrix.context.cluster.node
  const supervisorOf = (t: TestApp) =>
    (
      t.app.myntrix.areas.find((x) => x.name === 'agents') as unknown as {
        supervisor: { knows(id: string): boolean }
      }
    ).supervisor

  async function create(on: TestApp, command: string[]) {
    const res = await on.request('POST', AGENTS, {
      as: on.operator,
      body: { name: `agent-${Date.now()}`, configuration: { command, restartPolicy: 'never' } },
    })
    expect(res.status).toBe(201)
    return res.body as { id: string }
  }

  const act = (on: TestApp, id: string, action: string) =>
    on.request('POST', `${AGENTS}/${id}/${action}`, { as: on.operator })

  it('runs an agent created on A and started through B once, on A; stop through C ends it; restart through A keeps one', async () => {
    const { a, b, c } = await threeNodes()
    const agent = await create(a, node('prints-lines.mjs', 2))

    const started = await act(b, agent.id, 'start')
    expect(started.status).toBe(200)
    expect(started.body).toMatchObject({ status: 'running', desiredState: 'running' })
    const pid = started.body.pid as number
    expect(pid).toBeGreaterThan(0)
    expect(isAlive(pid)).toBe(true)
    // It runs on A, its creating node (default nodeAffinity), and nowhere else.
    expect(supervisorOf(a).knows(agent.id)).toBe(true)
    expect(supervisorOf(b).knows(agent.id)).toBe(false)
    expect(supervisorOf(c).knows(agent.id)).toBe(false)
    const lease = await sql<{
      holderName: string
    }>`select holder_name from resource_leases where kind = ${AGENT_LEASE} and id = ${agent.id}`.execute(
      a.database.db,
    )
    expect(lease.rows[0]?.holderName).toBe('node-a')

    // Starting it again through C is the same process.
    expect((await act(c, agent.id, 'start')).body.pid).toBe(pid)
    // Logs from any node are the holder's.
    const logs = await waitFor(
      async () => {
        const res = await c.request('GET', `${AGENTS}/${agent.id}/logs`, { as: c.operator })
        return res.body.some((l: { line: string }) => l.line === 'ready') ? res : null
      },
      { what: 'the logs through C' },
    )
    expect(logs.status).toBe(200)

    const stopped = await act(c, agent.id, 'stop')
    expect(stopped.status).toBe(200)
    expect(stopped.body).toMatchObject({ status: 'stopped', desiredState: 'stopped', pid: null })
    expect(isAlive(pid)).toBe(false)
    // Stopped: nobody holds it any more.
    expect(await a.app.myntrix.context.cluster.leases!.holder(AGENT_LEASE, agent.id)).toBeNull()

    const restarted = await act(a, agent.id, 'restart')
    expect(restarted.status).toBe(200)
    const again = await act(b, agent.id, 'restart')
    expect(again.status).toBe(200)
    expect(isAlive(restarted.body.pid)).toBe(false)
    expect(isAlive(again.body.pid)).toBe(true)
    expect(supervisorOf(b).knows(agent.id)).toBe(false)
    await act(b, agent.id, 'stop')
    expect(isAlive(again.body.pid)).toBe(false)
  })

  it("delivers the holder's status events to live listeners on every node", async () => {
    const { a, b, c } = await threeNodes()
    const agent = await create(a, node('ticks.mjs', 50))
    const seen: string[] = []
    const bus = c.app.myntrix.context.bus
    const offStatus = bus.onAnyNode('agent.status', (e) => {
      if (e.agentId === agent.id) seen.push(e.status)
    })
    const offLog = bus.onAnyNode('agent.log', (e) => {
      if (e.agentId === agent.id) seen.push(e.line)
    })
    await Promise.all([offStatus.ready, offLog.ready])
    await act(b, agent.id, 'start')
    await waitFor(() => seen.includes('running') && seen.includes('tick 2'), {
      what: `the running status and the line "tick 2" on C (got ${seen.join(', ')})`,
    })
    offStatus()
    offLog()
  })

  it('answers 404 for an agent the caller may not see, on any node, without forwarding it', async () => {
    const { a, b } = await threeNodes()
    const agent = await create(a, node('prints-lines.mjs', 1))
    const res = await b.request('POST', `${AGENTS}/${agent.id}/start`, { as: b.operator2 })
    expect(res.status).toBe(404)
    expect(supervisorOf(a).knows(agent.id)).toBe(false)
  })

  it("restarting a node ends none of its peers' agents", async () => {
    const { a, b } = await threeNodes()
    const agent = await create(a, node('prints-lines.mjs', 1))
    const pid = (await act(a, agent.id, 'start')).body.pid as number
    await apps.get('node-b')!.close()
    apps.delete('node-b')
    await start('node-b')
    expect(isAlive(pid)).toBe(true)
    expect((await a.request('GET', `${AGENTS}/${agent.id}`, { as: a.operator })).body).toMatchObject({
      status: 'running',
      pid,
    })
    expect(b).toBeDefined()
  })

  it('gives 503 naming the node when an agent pinned to a stopped node is started', async () => {
    const { a, b } = await threeNodes()
    const agent = await create(a, node('prints-lines.mjs', 1))
    await apps.get('node-a')!.close()
    apps.delete('node-a')
    const res = await act(b, agent.id, 'start')
    expect(res.status).toBe(503)
    expect(res.body.detail).toContain('"node-a"')
  })

  it('runs an agent pinned to B through the API on B when started through A; its affinity changes only when stopped', async () => {
    testDb = await postgres!.createDatabase()
    const a = await start('node-a')
    const b = await start('node-b')
    const created = await a.request('POST', AGENTS, {
      as: a.operator,
      body: { name: 'pinned', nodeAffinity: 'node-b', configuration: { command: node('ticks.mjs') } },
    })
    expect(created.status).toBe(201)
    expect(created.body.nodeAffinity).toBe('node-b')
    const id = created.body.id as string

    const started = await act(a, id, 'start')
    expect(started.status).toBe(200)
    expect(started.body).toMatchObject({ status: 'running', nodeAffinity: 'node-b' })
    expect(isAlive(started.body.pid)).toBe(true)
    expect(supervisorOf(b).knows(id)).toBe(true)
    expect(supervisorOf(a).knows(id)).toBe(false)
    expect((await a.app.myntrix.context.cluster.leases!.holder(AGENT_LEASE, id))?.nodeName).toBe('node-b')

    // A does not run it, and still refuses to move it while it runs on B.
    const refused = await a.request('PUT', `${AGENTS}/${id}`, {
      as: a.operator,
      body: { nodeAffinity: null },
    })
    expect(refused.status).toBe(409)
    expect(supervisorOf(b).knows(id) && isAlive(started.body.pid)).toBe(true)

    expect((await act(a, id, 'stop')).status).toBe(200)
    expect(isAlive(started.body.pid)).toBe(false)
    const moved = await a.request('PUT', `${AGENTS}/${id}`, {
      as: a.operator,
      body: { nodeAffinity: 'node-a' },
    })
    expect(moved.status).toBe(200)
    const again = await act(b, id, 'start')
    expect(again.status).toBe(200)
    expect(supervisorOf(a).knows(id)).toBe(true)
    expect((await a.app.myntrix.context.cluster.leases!.holder(AGENT_LEASE, id))?.nodeName).toBe('node-a')
  })

  it('takes over an unpinned agent whose node stopped, and runs it once', async () => {
    const { a, b, c } = await threeNodes()
    const agent = await create(a, node('prints-lines.mjs', 1))
    expect(
      (await a.request('PUT', `${AGENTS}/${agent.id}`, { as: a.operator, body: { nodeAffinity: null } }))
        .status,
    ).toBe(200)
    const first = (await act(b, agent.id, 'start')).body.pid as number
    const holderName = (await a.app.myntrix.context.cluster.leases!.holder(AGENT_LEASE, agent.id))!.nodeName
    const holder = apps.get(holderName)!
    await holder.close()
    apps.delete(holderName)
    expect(isAlive(first)).toBe(false)
    const survivor = [a, b, c].find((t) => nodeOf(t).name !== holderName)!
    const taken = await waitFor(
      async () => {
        const res = await survivor.request('GET', `${AGENTS}/${agent.id}`, { as: survivor.operator })
        return res.body.status === 'running' && res.body.pid ? res.body : null
      },
      { what: 'a survivor to take the agent over', timeoutMs: 15_000 },
    )
    expect(isAlive(taken.pid)).toBe(true)
    const runningOn = [...apps.values()].filter((t) => supervisorOf(t).knows(agent.id))
    expect(runningOn).toHaveLength(1)
  })

  it("the scheduler's run through B runs an agent pinned to A on A, answers its exit, and frees the lease", async () => {
    const { a, b } = await threeNodes()
    const agent = await create(a, node('crashes-after-ms.mjs', 300, 0))
    const control = (
      b.app.myntrix.areas.find((x) => x.name === 'agents') as unknown as {
        service: {
          control: {
            runToCompletion(
              id: string,
              opts: { actor: { ownerId: string | null }; signal: AbortSignal },
            ): Promise<{ exitCode: number | null; signal: string | null }>
          }
        }
      }
    ).service.control
    const exit = await control.runToCompletion(agent.id, {
      actor: { ownerId: null },
      signal: new AbortController().signal,
    })
    expect(exit).toEqual({ exitCode: 0, signal: null })
    expect(supervisorOf(a).knows(agent.id)).toBe(true)
    expect(supervisorOf(b).knows(agent.id)).toBe(false)
    expect(await a.app.myntrix.context.cluster.leases!.holder(AGENT_LEASE, agent.id)).toBeNull()
  })
})
