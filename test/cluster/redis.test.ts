// The two things Redis does between nodes, on the real local Redis: events
// fan out to every node's live listeners (never to a peer's side-effect
// listeners), and a request reaches the holder and comes back with its answer
// or problem, or fails with 503 naming the holder when it is silent.

import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { HolderUnavailableError, RemoteProblemError } from '../../src/cluster/errors.js'
import { MessageSeal } from '../../src/cluster/message-seal.js'
import { eventChannel, RedisEventBus } from '../../src/cluster/redis-bus.js'
import { RedisLink } from '../../src/cluster/redis-link.js'
import { NodeRpc, rpcChannel } from '../../src/cluster/rpc.js'
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
  /** Plain connections of the tests' own (see outsider()). */
  const outsiders: Redis[] = []

  afterEach(async () => {
    rejected.length = 0
    for (const r of rpcs.splice(0)) await r.stop()
    for (const l of links.splice(0)) await l.close()
    for (const r of outsiders.splice(0)) r.disconnect()
  })

  /** What each link dropped, by channel and reason. */
  const rejected: string[] = []
  /** The cluster's key, as every node derives it from the shared JWT secret. */
  const secret = randomUUID() + randomUUID()

  async function link(seal = new MessageSeal(secret)) {
    const l = await RedisLink.connect(REDIS_URL, {
      onError: () => {},
      seal,
      onRejected: (channel, reason) => rejected.push(`${channel} ${reason}`),
    })
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

  async function rpcNode(log = logger) {
    const nodeId = randomUUID()
    const rpc = new NodeRpc({ link: await link(), nodeId, timeoutMs: 2000, logger: log })
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

  /** A plain Redis connection: what any process that reaches Redis could do. */
  async function outsider(): Promise<Redis> {
    const r = new Redis(REDIS_URL, { lazyConnect: true })
    await r.connect()
    outsiders.push(r)
    return r
  }
  it('acts on no request that was not sealed with the cluster’s key, and reports it', async () => {
    const holder = await rpcNode()
    const calls: unknown[] = []
    holder.rpc.handle('agents.start', async (params) => calls.push(params))
    const forged = JSON.stringify({
      id: randomUUID(),
      replyTo: 'myx.node.x.reply',
      method: 'agents.start',
      params: { caller: { userId: 'u', role: 'admin' }, id: 'someone-elses-agent' },
    })
    const other = new MessageSeal(`${secret}-not-it`)
    const channel = rpcChannel(holder.node.id)
    const redis = await outsider()
    // As plain JSON (what nodes sent before sealing), and sealed with another secret.
    expect(await redis.publish(channel, forged)).toBe(1)
    expect(await redis.publish(channel, other.seal(channel, forged))).toBe(1)
    // Sealed with the right key but for another channel (an event's, say): still not a request.
    expect(await redis.publish(channel, new MessageSeal(secret).seal('myx.event.agent.status', forged))).toBe(
      1,
    )
    await waitFor(() => rejected.length >= 3, { what: 'the three messages to be dropped' })
    expect(rejected).toEqual([`${channel} malformed`, `${channel} forged`, `${channel} forged`])
    expect(calls).toEqual([])
    // The node still answers what a node sends.
    const caller = await rpcNode()
    await caller.rpc.call(holder.node, 'agents.start', { id: 'mine' }, 'agent mine')
    expect(calls).toEqual([{ id: 'mine' }])
  })

  it('acts once on a sealed request replayed from Redis, and refuses a copy older than a minute', async () => {
    const warnings: string[] = []
    const holder = await rpcNode({
      ...logger,
      warn: (_obj: unknown, msg?: string) => warnings.push(msg ?? ''),
    })
    const calls: unknown[] = []
    holder.rpc.handle('devices.command', async (params) => calls.push(params))
    const channel = rpcChannel(holder.node.id)
    // An eavesdropper on the holder's channel keeps a copy of a real request...
    const listener = await outsider()
    const copies: string[] = []
    listener.on('message', (_c: string, m: string) => copies.push(m))
    await listener.subscribe(channel)
    const caller = await rpcNode()
    await caller.rpc.call(holder.node, 'devices.command', { text: 'G28' }, 'device d')
    await waitFor(() => copies.length === 1, { what: 'the copy' })
    // ...which is not the request in the clear...
    expect(copies[0]).not.toContain('G28')
    expect(copies[0]).not.toContain('devices.command')
    // ...and is ignored when published again.
    const redis = await outsider()
    expect(await redis.publish(channel, copies[0] as string)).toBe(2)
    await waitFor(() => warnings.length >= 1, { what: 'the replay to be ignored' })
    expect(warnings).toEqual(['cluster: ignored a forwarded request seen before (a replay)'])
    expect(calls).toEqual([{ text: 'G28' }])
    // A request sealed 61 s ago (or ahead) by a node's clock is dropped before it is read.
    const skewed = (ms: number) => new MessageSeal(secret, () => Date.now() + ms)
    const old = JSON.stringify({
      id: randomUUID(),
      replyTo: 'r',
      method: 'devices.command',
      params: { text: 'M112' },
    })
    await redis.publish(channel, skewed(-61_000).seal(channel, old))
    await redis.publish(channel, skewed(61_000).seal(channel, old))
    await waitFor(() => rejected.length >= 2, { what: 'the stale copies to be dropped' })
    expect(rejected).toEqual([`${channel} stale`, `${channel} stale`])
    // A request held back until its caller stopped waiting (and answered 503) is not acted on
    // later: here one sealed just now with a deadline 3 s gone, as a held-back copy would carry.
    const late = {
      id: randomUUID(),
      replyTo: 'r',
      deadline: Date.now() - 3000,
      method: 'devices.command',
      params: {},
    }
    await redis.publish(channel, new MessageSeal(secret).seal(channel, JSON.stringify(late)))
    await waitFor(() => warnings.length >= 2, { what: 'the late request to be ignored' })
    expect(warnings[1]).toBe(
      'cluster: ignored a forwarded request that arrived after its caller stopped waiting',
    )
    expect(calls).toEqual([{ text: 'G28' }])
  })

  it('publishes events sealed: a plain subscriber reads nothing of them, a node of another key none either', async () => {
    const [a, b] = await Promise.all([nodeBus(), nodeBus()])
    const stranger = new RedisEventBus(
      await link(new MessageSeal('another cluster entirely, 32+ chars')),
      randomUUID(),
      logger,
    )
    const agentId = randomUUID()
    const seen: string[] = []
    const offB = b.onAnyNode('agent.status', (e) => e.agentId === agentId && seen.push('b'))
    const offStranger = stranger.onAnyNode(
      'agent.status',
      (e) => e.agentId === agentId && seen.push('stranger'),
    )
    const plain = await outsider()
    const copies: string[] = []
    plain.on('message', (_c: string, m: string) => copies.push(m))
    await plain.subscribe(eventChannel('agent.status'))
    await Promise.all([offB.ready, offStranger.ready])
    a.emit('agent.status', status(agentId))
    await waitFor(() => seen.includes('b') && copies.length >= 1, {
      what: 'the event on B and on the plain subscriber',
    })
    await waitFor(() => rejected.some((r) => r.endsWith('forged')), { what: 'the stranger to drop it' })
    expect(seen).toEqual(['b'])
    expect(copies.join('\n')).not.toContain(agentId)
    offB()
    offStranger()
  })
})
