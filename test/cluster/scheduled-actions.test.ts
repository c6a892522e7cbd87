// Scheduled `agent` and `device` actions across three real server processes
// (one PostgreSQL, the local Redis): an every-second task is claimed by
// whichever node wakes first, and its action must reach the node that holds
// the agent or device. 20 occurrences in a row must all succeed, and the agent
// must still run exactly once (a restart on a node that does not hold it would
// start a second copy). Which node claimed each run is printed.

import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { rawQuery } from '../../src/db/raw.js'
import { testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'
import { redisReachable } from '../helpers/redis.js'
import { fixture } from '../modules/agents/helpers.js'
import { clusterPerTest, processesWith, type TestCluster } from './support.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres || !hasRedis)
  console.warn('skipping the scheduled-action cluster tests: they need PostgreSQL and Redis')

const OCCURRENCES = 20
const ENV = { MYNTRIX_LEASE_TTL_MS: '4000', MYNTRIX_LEASE_RENEW_MS: '1000' }

describe.skipIf(!postgres || !hasRedis)('scheduled actions in a cluster', () => {
  const clusters = clusterPerTest(postgres, ENV)
  const threeNodes = () => clusters.start(['node-a', 'node-b', 'node-c'])

  /** Creates an every-second task through node-c, waits for OCCURRENCES finished runs, disables it. */
  async function everySecond(c: TestCluster, token: string, action: string, payload: unknown) {
    const task = await c.call('node-c', token, 'POST', '/api/myntrix/tasks', {
      name: `every second ${action}`,
      schedule: '* * * * * *',
      action,
      payload,
      overlapPolicy: 'queue',
      timeoutMs: 20_000,
    })
    expect(task.status).toBe(201)
    const taskId = task.body.id as string
    const runs = await waitFor(
      async () => {
        const h = await c.call(
          'node-a',
          token,
          'GET',
          `/api/myntrix/tasks/history?taskId=${taskId}&limit=200`,
        )
        const done = (h.body as { status: string }[]).filter(
          (r) => !['pending', 'running'].includes(r.status),
        )
        return done.length >= OCCURRENCES ? done : null
      },
      { what: `${OCCURRENCES} finished runs`, timeoutMs: 90_000, intervalMs: 500 },
    )
    const handle = c.testDb.open()
    let claims: { name: string | null; n: string }[]
    try {
      claims = await rawQuery<{ name: string | null; n: string }>(
        handle.db,
        'postgres',
        `select n.name, count(*) as n from task_runs r left join nodes n on n.id = r.claimed_by
         where r.task_id = ? group by n.name order by n.name`,
        [taskId],
      )
      console.log(
        `[scheduled-actions] ${action}: runs claimed per node: ${claims.map((r) => `${r.name}=${r.n}`).join(', ')}`,
      )
    } finally {
      await handle.close()
    }
    // Deleted through another node: no more occurrences (the finished runs were read above).
    const deleted = await fetch(`${c.url('node-b')}/api/myntrix/tasks/${taskId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(deleted.status).toBeLessThan(300)
    // The point of the test: runs claimed by a node that does not hold the resource (node-a holds it).
    expect(claims.filter((r) => r.name !== 'node-a').length).toBeGreaterThan(0)
    return [...runs].reverse().slice(0, OCCURRENCES) as { status: string; error: string | null }[]
  }

  it(`an agent action reaches the holder: ${OCCURRENCES} restarts all succeed and one process runs`, async () => {
    const { c, token } = await threeNodes()
    const marker = `scheduled-${randomUUID()}`
    const created = await c.call('node-a', token, 'POST', '/api/myntrix/agents', {
      name: 'restarted every second',
      configuration: { command: [process.execPath, fixture('prints-lines.mjs'), '1', marker] },
    })
    expect(created.body.nodeAffinity).toBe('node-a')
    const id = created.body.id as string
    expect((await c.call('node-a', token, 'POST', `/api/myntrix/agents/${id}/start`)).status).toBe(200)

    const runs = await everySecond(c, token, 'agent', { agentId: id, operation: 'restart' })
    expect(runs.map((r) => r.error).filter(Boolean)).toEqual([])
    expect(runs.every((r) => r.status === 'success')).toBe(true)
    await waitFor(() => processesWith(marker).length === 1, { what: 'one process after the last restart' })
    const view = await c.call('node-c', token, 'GET', `/api/myntrix/agents/${id}`)
    expect(view.body).toMatchObject({ status: 'running', pid: processesWith(marker)[0] })
    await c.call('node-b', token, 'POST', `/api/myntrix/agents/${id}/stop`)
    expect(processesWith(marker)).toEqual([])
  }, 240_000)

  it(`a device action reaches the node holding the device: ${OCCURRENCES} commands all succeed`, async () => {
    const { c, token } = await threeNodes()
    const id = await c.simPrinter('node-a', token)
    expect((await c.call('node-a', token, 'POST', `/api/myntrix/devices/${id}/connect`)).status).toBe(200)
    // A command through a node that does not hold the device reaches the holder.
    const probe = await c.call('node-b', token, 'POST', `/api/myntrix/devices/${id}/command`, {
      command: 'M105',
    })
    expect(probe.status).toBe(200)
    const runs = await everySecond(c, token, 'device', { deviceId: id, command: 'M105' })
    expect(runs.map((r) => r.error).filter(Boolean)).toEqual([])
    expect(runs.every((r) => r.status === 'success')).toBe(true)
  }, 240_000)
})
