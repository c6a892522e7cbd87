// Lost nodes with real server processes (node-a, node-b, node-c on one
// PostgreSQL and the local Redis; all on this host, so one boot id):
// - kill -9 of the node holding an unpinned agent: a survivor ends the dead
//   node's process and holds the agent within TTL + renewal (+ slack), and
//   exactly one process of it runs (counted by a marker in its command line);
//   an agent pinned to the dead node is reported `error` with `node lost`.
// - SIGSTOP of the holder past its lease, then SIGCONT: the paused node does not
//   overwrite the new holder's status or pid, and no second copy runs.

import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'
import { redisReachable } from '../helpers/redis.js'
import { fixture } from '../modules/agents/helpers.js'
import { clusterPerTest, processesWith, type TestCluster } from './support.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres || !hasRedis)
  console.warn('skipping the lost-node cluster tests: they need PostgreSQL and Redis')

const AGENTS = '/api/myntrix/agents'
// Short, but with room for a loaded two-core machine (a node that misses ttl - renew fences itself).
const TTL_MS = 4000
const RENEW_MS = 1000
const ENV = { MYNTRIX_LEASE_TTL_MS: String(TTL_MS), MYNTRIX_LEASE_RENEW_MS: String(RENEW_MS) }
/** Slack over TTL + one renewal for start-up of the copy and a busy machine; the measured time is printed. */
const SLACK_MS = 8000

describe.skipIf(!postgres || !hasRedis)('lost nodes', () => {
  const clusters = clusterPerTest(postgres, ENV)
  const threeNodes = () => clusters.start(['node-a', 'node-b', 'node-c'])

  /** An agent created and started through node-a (so node-a holds it), printing then quiet. */
  async function agentOnA(c: TestCluster, token: string, nodeAffinity: string | null) {
    const marker = `${nodeAffinity ?? 'free'}-${randomUUID()}`
    const created = await c.call('node-a', token, 'POST', AGENTS, {
      name: marker.slice(0, 40),
      nodeAffinity,
      configuration: { command: [process.execPath, fixture('prints-lines.mjs'), '1', marker] },
    })
    expect(created.status).toBe(201)
    const started = await c.call('node-a', token, 'POST', `${AGENTS}/${created.body.id}/start`)
    expect(started.status).toBe(200)
    expect(processesWith(marker)).toEqual([started.body.pid])
    return { id: created.body.id as string, marker, pid: started.body.pid as number }
  }

  it('kill -9 of the holder: a survivor ends its copy and runs the unpinned agent once; the pinned one is reported node lost', async () => {
    const { c, token } = await threeNodes()
    const free = await agentOnA(c, token, null)
    const pinned = await agentOnA(c, token, 'node-a')

    const killedAt = Date.now()
    await c.kill('node-a')
    // Both outlived their server (their own process groups).
    expect(processesWith(free.marker)).toEqual([free.pid])

    let most = 0
    const taken = await waitFor(
      async () => {
        const pids = processesWith(free.marker)
        if (!pids.includes(free.pid)) most = Math.max(most, pids.length)
        const view = await c.call('node-b', token, 'GET', `${AGENTS}/${free.id}`)
        const fresh = pids.length === 1 && pids[0] !== free.pid
        return fresh && view.body.status === 'running' && view.body.pid === pids[0] ? view.body : null
      },
      {
        what: 'a survivor to hold the unpinned agent',
        timeoutMs: TTL_MS + RENEW_MS + SLACK_MS,
        intervalMs: 100,
      },
    )
    const tookMs = Date.now() - killedAt
    console.log(
      `[lost-nodes] unpinned agent running on a survivor ${tookMs} ms after kill -9 (TTL ${TTL_MS} ms, renewal ${RENEW_MS} ms)`,
    )
    expect(processesWith(free.marker)).toEqual([taken.pid])
    expect(most).toBeLessThanOrEqual(1)

    const lost = await waitFor(
      async () => {
        const view = await c.call('node-c', token, 'GET', `${AGENTS}/${pinned.id}`)
        return view.body.status === 'error' ? view.body : null
      },
      { what: 'the pinned agent to be reported', timeoutMs: TTL_MS + RENEW_MS + SLACK_MS },
    )
    expect(lost.statusReason).toMatch(/^node lost: node "node-a"/)
    // Its unmanaged process on this host was ended; node-a starts it again when it is back.
    expect(processesWith(pinned.marker)).toEqual([])
    // A few more reconciliations change nothing: still one copy.
    await new Promise((r) => setTimeout(r, 3 * RENEW_MS))
    expect(processesWith(free.marker)).toEqual([taken.pid])

    await c.boot('node-a')
    const back = await waitFor(
      async () => {
        const pids = processesWith(pinned.marker)
        const view = await c.call('node-b', token, 'GET', `${AGENTS}/${pinned.id}`)
        return pids.length === 1 && view.body.status === 'running' && view.body.pid === pids[0] ? pids : null
      },
      { what: 'the pinned agent to run again on node-a', timeoutMs: 20_000 },
    )
    expect(back).toHaveLength(1)
    expect(processesWith(free.marker)).toEqual([taken.pid])
    await c.call('node-b', token, 'POST', `${AGENTS}/${free.id}/stop`)
    await c.call('node-c', token, 'POST', `${AGENTS}/${pinned.id}/stop`)
    expect(processesWith(free.marker)).toEqual([])
    expect(processesWith(pinned.marker)).toEqual([])
  }, 180_000)

  it('a holder paused past its lease does not overwrite the new holder, and no second copy runs', async () => {
    const { c, token } = await threeNodes()
    const free = await agentOnA(c, token, null)

    c.pause('node-a')
    const taken = await waitFor(
      async () => {
        const pids = processesWith(free.marker).filter((p) => p !== free.pid)
        const view = await c.call('node-b', token, 'GET', `${AGENTS}/${free.id}`)
        return pids.length === 1 && view.body.status === 'running' && view.body.pid === pids[0]
          ? view.body
          : null
      },
      { what: 'a survivor to hold the agent of the paused node', timeoutMs: TTL_MS + RENEW_MS + SLACK_MS },
    )
    // The paused node's copy was ended by the survivor on this host before it started its own.
    expect(processesWith(free.marker)).toEqual([taken.pid])

    c.resume('node-a')
    // node-a wakes: its watchdog finds the lease overdue and stops its copy; its reports are fenced.
    await new Promise((r) => setTimeout(r, TTL_MS))
    for (const name of ['node-a', 'node-b', 'node-c']) {
      const view = await c.call(name, token, 'GET', `${AGENTS}/${free.id}`)
      expect(view.body).toMatchObject({ status: 'running', pid: taken.pid })
    }
    expect(processesWith(free.marker)).toEqual([taken.pid])
    await c.call('node-a', token, 'POST', `${AGENTS}/${free.id}/stop`)
    expect(processesWith(free.marker)).toEqual([])
  }, 180_000)
})
