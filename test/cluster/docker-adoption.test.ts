// Container adoption by a cluster node (real Docker engine, PostgreSQL, Redis):
// a node killed with SIGKILL leaves its container agent running; the node
// started again under the same name, once the old lease lapsed, takes the
// agent's lease and adopts the same container (no second copy, no restart).
// A container of an agent that another live node holds is not adopted: it is
// removed.

import { sql } from 'kysely'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { AGENT_LEASE } from '../../src/modules/agents/clustered-service.js'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { killServers, startServer } from '../helpers/crash-server.js'
import { docker, removeNodeContainers, testImage, whyNoDocker } from '../helpers/docker.js'
import { testEngines } from '../helpers/engines.js'
import { REDIS_URL, redisReachable } from '../helpers/redis.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
const noDocker = await whyNoDocker()
const skip = !postgres || !hasRedis || noDocker !== null
if (skip) console.warn(`skipping cluster container adoption: ${noDocker ?? 'it needs PostgreSQL and Redis'}`)
const image = skip ? '' : await testImage()
const nodeName = `test-cluster-adopt-${process.pid}-${Date.now().toString(36)}`
afterAll(async () => {
  if (!skip) await removeNodeContainers(nodeName)
})

const AGENTS = '/api/myntrix/agents'
const TTL_MS = 2000
const env = {
  MYNTRIX_REDIS_URL: REDIS_URL,
  MYNTRIX_NODE_NAME: nodeName,
  MYNTRIX_LEASE_TTL_MS: String(TTL_MS),
  MYNTRIX_LEASE_RENEW_MS: '500',
}

async function containersOf(agentId: string): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`myntrix.node=${nodeName}`, `myntrix.agent=${agentId}`] },
  })
  return list.map((c) => c.Id)
}

describe.skipIf(skip)('container adoption by a cluster node', () => {
  let t: TestApp | null = null
  afterEach(async () => {
    await killServers()
    await t?.dispose()
    t = null
  })

  it('adopts its container only with the lease: same container after kill -9, removed when a peer holds the agent', async () => {
    t = await createTestApp(postgres!, { env })
    const ids: string[] = []
    for (const name of ['adopted', 'held-elsewhere']) {
      const created = await t.request('POST', AGENTS, {
        as: t.operator,
        body: {
          name,
          nodeAffinity: null,
          configuration: {
            stopTimeoutMs: 500,
            runtime: { type: 'docker', image, command: ['sh', '-c', 'while true; do sleep 1; done'] },
          },
        },
      })
      expect(created.status).toBe(201)
      ids.push(created.body.id as string)
    }
    const [mine, theirs] = ids as [string, string]
    const testDb = t.testDb
    await t.close()
    t = null

    const server = await startServer(testDb, env)
    const token = await server.login('operator')
    for (const id of ids)
      expect((await server.request('POST', `${AGENTS}/${id}/start`, token)).status).toBe(200)
    const [container] = await containersOf(mine)
    if (container === undefined) throw new Error(`agent ${mine} has no container`)
    expect(await containersOf(theirs)).toHaveLength(1)
    await server.kill9()
    expect((await docker.getContainer(container).inspect()).State.Running).toBe(true)
    // The killed node's leases lapse; a live peer (a row as a peer writes it) holds the second agent.
    await new Promise((r) => setTimeout(r, TTL_MS + 500))
    const handle = testDb.open()
    try {
      await sql`insert into nodes (id, name, hostname, pid, started_at, heartbeat_at, expires_at)
        values ('peer-node', 'peer', 'elsewhere', 1, now(), now(), now() + interval '1 hour')`.execute(
        handle.db,
      )
      await sql`update resource_leases set holder_node_id = 'peer-node', holder_name = 'peer', epoch = epoch + 1,
        expires_at = now() + interval '1 hour' where kind = ${AGENT_LEASE} and id = ${theirs}`.execute(
        handle.db,
      )
    } finally {
      await handle.close()
    }

    t = await createTestApp(postgres!, { testDb, seedUsers: false, env })
    const leases = t.app.myntrix.context.cluster.leases
    const again = (await t.request('GET', `${AGENTS}/${mine}`, { as: t.operator })).body
    expect(again).toMatchObject({ status: 'running', restarts: 0 })
    expect(await containersOf(mine)).toEqual([container])
    expect(leases?.holding(AGENT_LEASE, mine)).toBeDefined()
    // Its own name's container, but the agent is the peer's now: removed, not adopted.
    expect(await containersOf(theirs)).toEqual([])
    expect(leases?.holding(AGENT_LEASE, theirs)).toBeUndefined()
  }, 180_000)
})
