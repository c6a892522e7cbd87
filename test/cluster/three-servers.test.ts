// Three real server processes (node-a, node-b, node-c) on one fresh PostgreSQL
// database and the local Redis, with one JWT secret, as an operator scaling out
// runs them: an agent created on A and started through B runs exactly once
// (counted by its processes), its status and log lines are live on a WebSocket
// on C, stop through C ends it, restart through A leaves one process, and a
// rolling restart of A, B and C leaves exactly one process per running agent.

import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'
import { redisReachable } from '../helpers/redis.js'
import { fixture } from '../modules/agents/helpers.js'
import { clusterPerTest, processesWith } from './support.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres || !hasRedis)
  console.warn('skipping the three-server cluster test: it needs PostgreSQL and Redis')

const AGENTS = '/api/myntrix/agents'

describe.skipIf(!postgres || !hasRedis)('three server processes on one database', () => {
  const clusters = clusterPerTest(postgres)
  const boot = (name: string, env: Record<string, string> = {}) => clusters.current.boot(name, env)
  const restart = (name: string) => clusters.current.restart(name)
  const url = (name: string) => clusters.current.url(name)
  const adminToken = (name: string) => clusters.current.adminToken(name)
  const call = (name: string, token: string, method: string, route: string, body?: unknown) =>
    clusters.current.call(name, token, method, route, body)

  it('runs each agent once, whichever node is asked, through a rolling restart', async () => {
    await clusters.create()
    // One at a time: the first runs the migrations.
    await boot('node-a')
    await boot('node-b')
    await boot('node-c')
    const token = await adminToken('node-a')

    // Two agents: one pinned to A (its creating node), one any node may run.
    const markers = { pinned: `pinned-${randomUUID()}`, free: `free-${randomUUID()}` }
    const command = (marker: string) => [process.execPath, fixture('ticks.mjs'), '100', marker]
    const pinned = await call('node-a', token, 'POST', AGENTS, {
      name: 'pinned',
      configuration: { command: command(markers.pinned) },
    })
    expect(pinned.status).toBe(201)
    const free = await call('node-a', token, 'POST', AGENTS, {
      name: 'free',
      nodeAffinity: null,
      configuration: { command: command(markers.free) },
    })
    expect(free.body.nodeAffinity).toBeNull()
    const pinnedId = pinned.body.id as string
    const freeId = free.body.id as string

    // Started through B: runs once, on A.
    const started = await call('node-b', token, 'POST', `${AGENTS}/${pinnedId}/start`)
    expect(started.status).toBe(200)
    expect(started.body).toMatchObject({ status: 'running' })
    expect(processesWith(markers.pinned)).toEqual([started.body.pid])
    expect((await call('node-c', token, 'POST', `${AGENTS}/${freeId}/start`)).status).toBe(200)
    expect(processesWith(markers.free)).toHaveLength(1)

    // Status and new lines live on a WebSocket on C.
    const ws = new WebSocket(
      `${url('node-c').replace('http', 'ws')}/ws/myntrix/agents/${pinnedId}/logs?tail=0&token=${token}`,
    )
    const frames: { type: string; payload?: unknown }[] = []
    ws.on('message', (m) => frames.push(JSON.parse(String(m))))
    await waitFor(() => frames.some((f) => f.type === 'status'), { what: 'the first status frame on C' })
    await waitFor(() => frames.some((f) => f.type === 'log' && String(f.payload).startsWith('tick ')), {
      what: `the holder's log lines on C (got ${JSON.stringify(frames).slice(0, 500)})`,
    })

    // Stop through C ends it (and C's socket hears it).
    const stopped = await call('node-c', token, 'POST', `${AGENTS}/${pinnedId}/stop`)
    expect(stopped.body).toMatchObject({ status: 'stopped', pid: null })
    expect(processesWith(markers.pinned)).toEqual([])
    await waitFor(
      () =>
        frames.some(
          (f) => f.type === 'status' && (f.payload as { status?: string } | undefined)?.status === 'stopped',
        ),
      { what: 'the stopped status on C' },
    )
    ws.close()

    // Restart through A: one process.
    expect((await call('node-a', token, 'POST', `${AGENTS}/${pinnedId}/restart`)).status).toBe(200)
    expect(processesWith(markers.pinned)).toHaveLength(1)

    // Rolling restart: after each node comes back, each running agent runs exactly once.
    for (const name of ['node-a', 'node-b', 'node-c']) {
      await restart(name)
      for (const marker of [markers.pinned, markers.free]) {
        const pids = await waitFor(
          () => {
            const found = processesWith(marker)
            return found.length === 1 ? found : null
          },
          { what: `one process of ${marker} after restarting ${name}`, timeoutMs: 15_000 },
        )
        expect(pids).toHaveLength(1)
      }
    }
    const after = await call('node-b', token, 'GET', `${AGENTS}/${pinnedId}`)
    expect(after.body).toMatchObject({ status: 'running', pid: processesWith(markers.pinned)[0] })
    expect(processesWith(markers.free)).toHaveLength(1)

    // Tidy up through any node: both stop.
    await call('node-b', token, 'POST', `${AGENTS}/${pinnedId}/stop`)
    await call('node-a', token, 'POST', `${AGENTS}/${freeId}/stop`)
    expect(processesWith(markers.pinned)).toEqual([])
    expect(processesWith(markers.free)).toEqual([])
    // Three servers started five times over on two cores: minutes, not the default 30 s.
  }, 240_000)

  it('a node killed with SIGKILL and started again ends its old process and runs the agent once', async () => {
    await clusters.create()
    // A TTL longer than a restart takes: the new node-a starts while its predecessor's lease still holds.
    const slow = { MYNTRIX_LEASE_TTL_MS: '20000', MYNTRIX_LEASE_RENEW_MS: '2000' }
    await boot('node-a', slow)
    await boot('node-b', slow)
    const token = await adminToken('node-b')
    const marker = `killed-${randomUUID()}`
    const created = await call('node-a', token, 'POST', AGENTS, {
      name: 'pinned',
      // Quiet after its first lines: an agent that kept printing would die of EPIPE with its server.
      configuration: { command: [process.execPath, fixture('prints-lines.mjs'), '1', marker] },
    })
    const started = await call('node-b', token, 'POST', `${AGENTS}/${created.body.id}/start`)
    const oldPid = started.body.pid as number
    expect(processesWith(marker)).toEqual([oldPid])

    // The server itself is tsx's child: SIGKILL reaches only the process it names.
    await clusters.current.kill('node-a')
    // The agent outlived its server (its own process group).
    expect(processesWith(marker)).toEqual([oldPid])

    await boot('node-a', slow)
    // The predecessor's process is ended at start-up, before its lease lapses.
    expect(processesWith(marker)).toEqual([])
    const pids = await waitFor(
      () => {
        const found = processesWith(marker)
        return found.length === 1 && found[0] !== oldPid ? found : null
      },
      { what: 'the agent to run again, once, on the restarted node', timeoutMs: 40_000 },
    )
    expect(pids).toHaveLength(1)
    expect(processesWith(marker)).not.toContain(oldPid)
    await call('node-b', token, 'POST', `${AGENTS}/${created.body.id}/stop`)
    expect(processesWith(marker)).toEqual([])
  }, 180_000)
})
