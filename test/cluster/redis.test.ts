// The two things Redis does between nodes, on the real local Redis: events
// fan out to every node's live listeners (never to a peer's side-effect
// listeners), and a request reaches the holder and comes back with its answer
// or problem, or fails with 503 naming the holder when it is silent.

import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { HolderUnavailableError, RemoteProblemError } from '../../src/cluster/errors.js'
import { RedisEventBus } from '../../src/cluster/redis-bus.js'
import { RedisLink } from '../../src/cluster/redis-link.js'
import { NodeRpc } from '../../src/cluster/rpc.js'
import { ConflictError, PayloadTooLargeError } from '../../src/errors.js'
import type { EventMap } from '../../src/events/bus.js'
import { silentLogger } from '../../src/logger.js'
import { waitFor } from '../helpers/processes.js'
import { REDIS_URL, redisReachable } from '../helpers/redis.js'

const hasRedis = await redisReachable()
if (!hasRedis) console.warn('skipping cluster Redis tests: no Redis on 127.0.0.1:6379')

const logger = silentLogger

/** The error a call rejected with (fails the test when it resolved). */
async function rejection(call: Promise<unknown>): Promise<Error & { status?: number }> {
  return call.then(
    () => {
      throw new Error('expected the call to be refused')
    },
    (err: Error & { status?: number }) => err,
  )
}

describe.skipIf(!hasRedis)('between nodes over Redis', () => {
  const links: RedisLink[] = []
  const rpcs: NodeRpc[] = []

  afterEach(async () => {
    for (const r of rpcs.splice(0)) await r.stop()
    for (const l of links.splice(0)) await l.close()
  })

  async function link() {
    const l = await RedisLink.connect(REDIS_URL, () => {})
    links.push(l)
    return l
  }

  /** A node's bus; node ids are fresh per test so parallel runs never share channels. */
  async function nodeBus() {
    return new RedisEventBus(await link(), randomUUID(), logger)
  }

  const status = (agentId: string): EventMap['agent.status'] => ({
    agentId,
    ownerId: 'o',
    status: 'running',
    health: 100,
    pid: 1,
  })

  it('delivers an event to live listeners on every node, and to side-effect listeners only where it happened', async () => {
    const [a, b, c] = await Promise.all([nodeBus(), nodeBus(), nodeBus()])
    const agentId = randomUUID()
    const seen: string[] = []
    const offB = b.onAnyNode('agent.status', (e) => e.agentId === agentId && seen.push(`b live ${e.status}`))
    const offC = c.onAnyNode('agent.status', (e) => e.agentId === agentId && seen.push(`c live ${e.status}`))
    const offA = a.onAnyNode('agent.status', (e) => e.agentId === agentId && seen.push(`a live ${e.status}`))
    const offLocal = b.on('agent.status', (e) => e.agentId === agentId && seen.push('b side effect'))
    await Promise.all([offA.ready, offB.ready, offC.ready])

    a.emit('agent.status', status(agentId))
    // A's own listener heard it at once, synchronously, as on one instance.
    expect(seen).toEqual(['a live running'])
    await waitFor(() => seen.length >= 3, { what: 'the event on B and C' })
    expect(seen.sort()).toEqual(['a live running', 'b live running', 'c live running'])
    offA()
    offB()
    offC()
    offLocal()
  })

  it('stops delivering to a node once its last live listener is gone', async () => {
    const [a, b] = await Promise.all([nodeBus(), nodeBus()])
    const agentId = randomUUID()
    const seen: string[] = []
    const first = b.onAnyNode('agent.status', (e) => e.agentId === agentId && seen.push('first'))
    const second = b.onAnyNode('agent.status', (e) => e.agentId === agentId && seen.push('second'))
    await Promise.all([first.ready, second.ready])
    first()
    a.emit('agent.status', status(agentId))
    await waitFor(() => seen.length >= 1, { what: 'the event on the remaining listener' })
    expect(seen).toEqual(['second'])
    second()
    // Nobody on B listens any more: B unsubscribed, so Redis has no receiver for the channel but A's.
    await waitFor(
      async () => {
        const counts = (await a['link'].pub.pubsub('NUMSUB', 'myx.event.agent.status')) as [string, number]
        return Number(counts[1]) === 0
      },
      { what: 'B to unsubscribe' },
    )
  })

  async function rpcNode() {
    const nodeId = randomUUID()
    const rpc = new NodeRpc({ link: await link(), nodeId, timeoutMs: 2000, logger })
    rpcs.push(rpc)
    await rpc.start()
    return { rpc, node: { id: nodeId, name: `node-${nodeId.slice(0, 6)}` } }
  }

  it("answers a forwarded request with the holder's result, or with its problem", async () => {
    const holder = await rpcNode()
    const caller = await rpcNode()
    holder.rpc.handle('agents.echo', async (params) => ({ echoed: params }))
    holder.rpc.handle('agents.refuse', async () => {
      throw new ConflictError('agent x is stopping')
    })
    expect(await caller.rpc.call(holder.node, 'agents.echo', { a: 1 }, 'agent x')).toEqual({
      echoed: { a: 1 },
    })
    const err = await rejection(caller.rpc.call(holder.node, 'agents.refuse', {}, 'agent x'))
    expect(err).toBeInstanceOf(RemoteProblemError)
    expect(err).toMatchObject({ status: 409, type: 'conflict', message: 'agent x is stopping' })
  })

  it('gives 503 naming the holder when it does not answer within the deadline', async () => {
    const holder = await rpcNode()
    const caller = await rpcNode()
    let release: () => void = () => {}
    holder.rpc.handle('agents.slow', () => new Promise((r) => (release = () => r('late'))))
    const err = await rejection(caller.rpc.call(holder.node, 'agents.slow', {}, 'agent x', 300))
    expect(err).toBeInstanceOf(HolderUnavailableError)
    expect(err.status).toBe(503)
    expect(err.message).toContain(holder.node.name)
    expect(err.message).toContain('agent x')
    release()
  })

  it('gives 503 at once when the holder is not listening at all', async () => {
    const caller = await rpcNode()
    const gone = { id: randomUUID(), name: 'node-gone' }
    const err = await rejection(caller.rpc.call(gone, 'agents.start', {}, 'agent x', 60_000))
    expect(err).toBeInstanceOf(HolderUnavailableError)
    expect(err.message).toContain('"node-gone"')
    expect(err.message).toContain('is not listening')
  })

  it('refuses a message of 64 KiB or more instead of sending it', async () => {
    const holder = await rpcNode()
    const caller = await rpcNode()
    holder.rpc.handle('agents.echo', async (params) => params)
    const err = await rejection(caller.rpc.call(holder.node, 'agents.echo', 'x'.repeat(70_000), 'agent x'))
    expect(err).toBeInstanceOf(PayloadTooLargeError)
    // A reply that would be too large comes back as the holder's problem, not as a silent deadline.
    holder.rpc.handle('agents.big', async () => 'y'.repeat(70_000))
    const big = await rejection(caller.rpc.call(holder.node, 'agents.big', {}, 'agent x'))
    expect(big).toMatchObject({ status: 413 })
  })
})
