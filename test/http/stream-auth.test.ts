// Open streams follow the caller as the caller is now: the periodic re-check
// (MYNTRIX_STREAM_AUTH_RECHECK_MS) updates the role the stream filters with,
// and ends the stream when the credential stops holding (password change,
// disabled user, logout). Real WebSocket and SSE clients over a real socket.

import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { JobsService } from '../../src/modules/jobs/service.js'
import { createTestApp, type TestApp, type TestUser, USER_PASSWORD } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

type Message = Record<string, any>

interface Client {
  messages: Message[]
  /** Resolves with the first message (counting from `from`) that matches. */
  next(match: (m: Message) => boolean, from?: number): Promise<Message>
  closed: Promise<number>
  close(): void
}

function collect(
  onMessage: (listener: (m: Message) => void) => void,
  closed: Promise<number>,
  close: () => void,
): Client {
  const messages: Message[] = []
  const waiters: (() => void)[] = []
  onMessage((m) => {
    messages.push(m)
    for (const w of waiters.splice(0)) w()
  })
  return {
    messages,
    closed,
    close,
    async next(match, from = 0) {
      for (;;) {
        const found = messages.slice(from).find(match)
        if (found) return found
        const ended = await Promise.race([
          new Promise<false>((resolve) => waiters.push(() => resolve(false))),
          closed.then(() => true),
        ])
        if (ended && !messages.slice(from).some(match))
          throw new Error('stream closed before the message came')
      }
    },
  }
}

function openWs(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)))
    const client = collect(
      (listener) => ws.on('message', (data) => listener(JSON.parse(String(data)))),
      closed,
      () => ws.terminate(),
    )
    ws.once('open', () => resolve(client))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

function openSse(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`refused ${res.statusCode}`))
      let buffer = ''
      const listeners: ((m: Message) => void)[] = []
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block.split('\n').find((l) => l.startsWith('data: '))
          if (data) for (const l of listeners) l(JSON.parse(data.slice(6)))
        }
      })
      const closed = new Promise<number>((r) => res.on('close', () => r(0)))
      resolve(
        collect(
          (l) => listeners.push(l),
          closed,
          () => req.destroy(),
        ),
      )
    })
    req.on('error', reject)
  })
}

function jobsOf(t: TestApp): JobsService {
  const area = t.app.myntrix.areas.find((a) => a.name === 'jobs') as unknown as { service: JobsService }
  return area.service
}

describe.each(testEngines())('streams follow the caller on $name', (engine) => {
  let t: TestApp
  let ws: string
  let httpBase: string
  let n = 0
  const clients: Client[] = []

  beforeAll(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_STREAM_AUTH_RECHECK_MS: '100' } })
    httpBase = await t.app.listen({ port: 0, host: '127.0.0.1' })
    ws = httpBase.replace('http', 'ws')
  })
  afterAll(async () => {
    for (const c of clients) c.close()
    await t.dispose()
  })

  /** A second admin (the first must stay admin), logged in with a token. */
  async function newAdmin(): Promise<TestUser> {
    const username = `admin${++n}`
    const created = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username, password: USER_PASSWORD, role: 'admin' },
    })
    expect(created.status).toBe(201)
    const login = await t.request('POST', '/api/auth/token', { body: { username, password: USER_PASSWORD } })
    return { id: created.body.id, username, token: login.body.access_token }
  }

  async function track<T extends Client>(client: Promise<T>): Promise<T> {
    const c = await client
    clients.push(c)
    return c
  }

  it('a demoted admin stops receiving other users’ jobs on /ws/myntrix/jobs', async () => {
    const jobs = jobsOf(t)
    const boss = await newAdmin()
    const feed = await track(openWs(`${ws}/ws/myntrix/jobs?token=${boss.token}`))
    await feed.next((m) => m.type === 'snapshot')
    const theirs = await jobs.create({ name: 'theirs-1', type: 't', ownerId: t.operator.id, running: true })
    // As an admin it sees the operator's job.
    await feed.next((m) => m.type === 'job' && m.jobId === theirs.id)

    const demoted = await t.request('PUT', `/api/auth/users/${boss.id}`, {
      as: t.admin,
      body: { role: 'operator' },
    })
    expect(demoted.status).toBe(200)
    // Within the re-check a new snapshot replaces the client's view: without the operator's job.
    const mark = feed.messages.length
    const snapshot = await feed.next((m) => m.type === 'snapshot', mark)
    expect(snapshot.payload.jobs.map((j: { id: string }) => j.id)).not.toContain(theirs.id)

    // Events are delivered in order: had the operator's next job been let through,
    // it would arrive before the caller's own one.
    const after = feed.messages.length
    const hidden = await jobs.create({ name: 'theirs-2', type: 't', ownerId: t.operator.id, running: true })
    const own = await jobs.create({ name: 'own', type: 't', ownerId: boss.id, running: true })
    await feed.next((m) => m.type === 'job' && m.jobId === own.id, after)
    expect(feed.messages.slice(after).some((m) => m.jobId === hidden.id)).toBe(false)
    expect(feed.messages.slice(after).some((m) => m.jobId === theirs.id)).toBe(false)
  })

  it('a demoted admin loses other users’ objects on /ws/myntrix/visualization and the SSE stream', async () => {
    const agent = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: { name: 'operators-agent', type: 'worker', configuration: { command: ['true'] } },
    })
    expect(agent.status, agent.text).toBe(201)
    const boss = await newAdmin()
    const socket = await track(openWs(`${ws}/ws/myntrix/visualization?token=${boss.token}`))
    const sse = await track(openSse(`${httpBase}/api/myntrix/visualization-stream?token=${boss.token}`))
    for (const feed of [socket, sse]) {
      const first = await feed.next((m) => m.type === 'snapshot')
      expect(first.payload.agents.map((a: { id: string }) => a.id)).toContain(agent.body.id)
    }

    await t.request('PUT', `/api/auth/users/${boss.id}`, { as: t.admin, body: { role: 'operator' } })
    // Within the re-check each stream starts over with a snapshot at the new scope.
    const hasAgent = (m: Message) => m.payload.agents.some((a: { id: string }) => a.id === agent.body.id)
    for (const feed of [socket, sse]) await feed.next((m) => m.type === 'snapshot' && !hasAgent(m), 1)
    // A later change to the operator's agent reaches neither stream.
    const mark = [socket.messages.length, sse.messages.length]
    await t.request('PUT', `/api/myntrix/agents/${agent.body.id}`, {
      as: t.operator,
      body: { name: 'renamed-agent' },
    })
    const mine = await t.request('POST', '/api/myntrix/agents', {
      as: { ...boss },
      body: { name: 'bosses-agent', type: 'worker', configuration: { command: ['true'] } },
    })
    expect(mine.status, mine.text).toBe(201)
    for (const [i, feed] of [socket, sse].entries()) {
      await feed.next(
        (m) => m.type === 'delta' && m.payload.agents.some((a: { id: string }) => a.id === mine.body.id),
        mark[i],
      )
      const seen = JSON.stringify(feed.messages.slice(mark[i]))
      expect(seen).not.toContain(agent.body.id)
      expect(seen).not.toContain('renamed-agent')
    }
  })

  it('a demoted admin watching another user’s agent log is cut off (4404)', async () => {
    const agent = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: { name: 'watched-agent', type: 'worker', configuration: { command: ['true'] } },
    })
    const boss = await newAdmin()
    const logs = await track(openWs(`${ws}/ws/myntrix/agents/${agent.body.id}/logs?token=${boss.token}`))
    await logs.next((m) => m.type === 'status')
    await t.request('PUT', `/api/auth/users/${boss.id}`, { as: t.admin, body: { role: 'viewer' } })
    expect(await logs.closed).toBe(4404)
  })

  it('a password change ends the caller’s open WebSocket and SSE streams', async () => {
    const boss = await newAdmin()
    const jobsFeed = await track(openWs(`${ws}/ws/myntrix/jobs?token=${boss.token}`))
    const scene = await track(openWs(`${ws}/ws/myntrix/visualization?token=${boss.token}`))
    const sse = await track(openSse(`${httpBase}/api/myntrix/visualization-stream?token=${boss.token}`))
    await jobsFeed.next((m) => m.type === 'snapshot')
    await scene.next((m) => m.type === 'snapshot')
    await sse.next((m) => m.type === 'snapshot')
    const changed = await t.request('PUT', `/api/auth/users/${boss.id}`, {
      as: t.admin,
      body: { password: 'another-password-3' },
    })
    expect(changed.status).toBe(200)
    await Promise.all([jobsFeed.closed, scene.closed, sse.closed])
    // And the token is refused from now on.
    expect((await t.request('GET', '/api/auth/me', { as: boss })).status).toBe(401)
  })

  it('disabling the user ends the stream', async () => {
    const boss = await newAdmin()
    const feed = await track(openWs(`${ws}/ws/myntrix/jobs?token=${boss.token}`))
    await feed.next((m) => m.type === 'snapshot')
    await t.request('PUT', `/api/auth/users/${boss.id}`, { as: t.admin, body: { disabled: true } })
    await feed.closed
  })
})
