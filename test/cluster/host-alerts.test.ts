// Host alerts per node: two real server processes on one PostgreSQL database
// and the local Redis, each with its data directory on its own small tmpfs
// (mounted by the test, so each node's disk.percent can be moved on its own).
// A rule created through node A is watched by B too; each node evaluates it
// against its own host, so both filling up are two alerts (one per node, each
// naming its node) and two notifications, each sent once; one node's disk
// freed resolves that node's alert only; /metrics over HTTP counts what is
// firing; a rule disabled through B closes both nodes' alerts. A device rule,
// watched by both, fires only on the node holding the device's connection
// (the only one that hears its telemetry), and is sent once.

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connectAsync } from 'mqtt'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { portOpen } from '../helpers/ports.js'
import { waitFor } from '../helpers/processes.js'
import { clusterServerEnv, redisReachable } from '../helpers/redis.js'
import { type RunningServer, root, startServer } from '../helpers/server.js'
import { useReceiver } from '../modules/notifications/receiver.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
const tsx = path.join(root, 'node_modules/.bin/tsx')
const hasBroker = await portOpen(1883)

/** A 4 MiB tmpfs per node; null when this process may not mount (not root, no CAP_SYS_ADMIN). */
function mountTmpfs(): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-node-fs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    fs.rmSync(dir, { recursive: true, force: true })
    return null
  }
}
const mounts = postgres && hasRedis ? [mountTmpfs(), mountTmpfs()] : []
const canMount = mounts.length === 2 && mounts.every((m) => m !== null)
if (!postgres || !hasRedis || !canMount) {
  console.warn(
    'skipping the per-node host alerts test: it needs PostgreSQL, Redis and the right to mount a tmpfs',
  )
}
afterAll(() => {
  for (const dir of mounts) {
    if (!dir) continue
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' })
    } catch {
      // never mounted
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

describe.skipIf(!postgres || !hasRedis || !canMount)('host alerts per node in a cluster', () => {
  let testDb: TestDatabase
  const servers = new Map<string, RunningServer>()
  const jwtSecret = randomBytes(32).toString('hex')
  const receiver = useReceiver()
  const fsOf = { 'node-a': mounts[0] as string, 'node-b': mounts[1] as string }
  type Node = keyof typeof fsOf

  afterEach(async () => {
    for (const s of servers.values()) await s.stop()
    servers.clear()
    await testDb?.drop()
  })

  async function boot(name: Node) {
    const server = await startServer({
      command: [tsx, 'src/main.ts'],
      env: {
        ...clusterServerEnv(testDb.url, name, jwtSecret),
        MYNTRIX_DATA_DIR: path.join(fsOf[name], 'data'),
        MYNTRIX_METRICS_INTERVAL_MS: '200',
        MYNTRIX_NOTIFY_POLL_MS: '500',
      },
    })
    servers.set(name, server)
    return server
  }

  const url = (name: Node) => servers.get(name)!.baseUrl
  let token = ''
  async function call(name: Node, method: string, route: string, body?: unknown) {
    const res = await fetch(`${url(name)}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    const text = await res.text()
    return {
      status: res.status,
      text,
      body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text,
    }
  }
  /** Fills a node's tmpfs to about 60 % (or frees it again). */
  const fill = (name: Node, on: boolean) => {
    const file = path.join(fsOf[name], 'ballast')
    if (on) fs.writeFileSync(file, Buffer.alloc(Math.round(2.4 * 1024 * 1024), 1))
    else fs.rmSync(file, { force: true })
  }
  /** Nodes A and B on a fresh database, the admin's token, and a webhook for alerts to `path`. */
  async function twoNodes(path: string) {
    testDb = await postgres!.createDatabase()
    await boot('node-a')
    await boot('node-b')
    const login = await fetch(`${url('node-a')}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: servers.get('node-a')!.adminPassword }),
    })
    token = ((await login.json()) as { access_token: string }).access_token
    const hook = await call('node-a', 'POST', '/api/myntrix/notification-rules', {
      name: 'alerts',
      filter: { kinds: ['alert.firing', 'alert.resolved'] },
      cooldownSeconds: 0,
      sink: { type: 'webhook', url: `${receiver().url}${path}` },
    })
    expect(hook.status, hook.text).toBe(201)
    receiver().expectSecret(path, hook.body.secret)
  }

  const firing = async (name: Node, ruleId: string) =>
    (await call(name, 'GET', `/api/myntrix/alerts?ruleId=${ruleId}&state=firing`)).body as any[]

  it('each node alerts on its own host, once, and resolves only its own', async () => {
    await twoNodes('/cluster')
    // A rule with a long cooldown still hears each node once: it counts per alert rule and node.
    const grouped = await call('node-a', 'POST', '/api/myntrix/notification-rules', {
      name: 'firings, hourly',
      filter: { kinds: ['alert.firing'] },
      cooldownSeconds: 3600,
      sink: { type: 'webhook', url: `${receiver().url}/grouped` },
    })
    expect(grouped.status, grouped.text).toBe(201)
    // Created through A; B learns of it over the cluster bus.
    const rule = await call('node-a', 'POST', '/api/myntrix/alert-rules', {
      name: 'data disk full',
      condition: { source: 'host', metric: 'disk.percent', operator: '>', threshold: 50, clearThreshold: 40 },
      cooldownSeconds: 0,
    })
    expect(rule.status, rule.text).toBe(201)
    await sleep(600)
    expect(await firing('node-a', rule.body.id)).toEqual([])

    fill('node-a', true)
    fill('node-b', true)
    const both = await waitFor(
      async () => {
        const list = await firing('node-b', rule.body.id)
        return list.length === 2 ? list : null
      },
      { what: 'an alert firing on each node' },
    )
    expect(both.map((a) => a.node).sort()).toEqual(['node-a', 'node-b'])
    for (const alert of both) {
      expect(alert).toMatchObject({ resourceType: 'host', resourceId: 'disk.percent', notified: true })
      expect(alert.value).toBeGreaterThan(50)
    }
    // Each firing is sent once, by the node whose alert it is.
    const sent = await receiver().waitFor('/cluster', 2)
    expect(sent.every((r) => r.signed)).toBe(true)
    expect(sent.map((r) => (r.body as any).details.node).sort()).toEqual(['node-a', 'node-b'])
    expect((sent[0]!.body as any).summary).toMatch(
      /^Alert "data disk full" is firing: disk.percent on "node-[ab]" is /,
    )

    // /metrics of either node counts both (the database's view).
    const metrics = await fetch(`${url('node-a')}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    expect(await metrics.text()).toContain('myntrix_alerts{state="firing",source="host"} 2')

    // A's disk freed: A's alert resolves, B's stays.
    fill('node-a', false)
    await waitFor(
      async () =>
        (await call('node-a', 'GET', `/api/myntrix/alerts?ruleId=${rule.body.id}&node=node-a&state=resolved`))
          .body.length === 1,
      { what: "node A's alert resolved" },
    )
    await sleep(600)
    const left = await firing('node-a', rule.body.id)
    expect(left.map((a) => a.node)).toEqual(['node-b'])
    const resolved = await receiver().waitFor('/cluster', 3)
    expect(resolved[2]!.body).toMatchObject({ kind: 'alert.resolved', details: { node: 'node-a' } })
    await sleep(1000)
    expect(receiver().to('/cluster')).toHaveLength(3)
    expect(
      receiver()
        .to('/grouped')
        .map((r) => (r.body as any).details.node)
        .sort(),
    ).toEqual(['node-a', 'node-b'])

    // Disabled through B: each node closes its own open alert (B's), and nothing is left firing.
    const off = await call('node-b', 'PUT', `/api/myntrix/alert-rules/${rule.body.id}`, { enabled: false })
    expect(off.status, off.text).toBe(200)
    await waitFor(async () => (await firing('node-a', rule.body.id)).length === 0, {
      what: 'no alert left firing',
    })
    fill('node-b', false)
    // Enabled again through A, with both disks free: nothing fires anywhere.
    await call('node-a', 'PUT', `/api/myntrix/alert-rules/${rule.body.id}`, { enabled: true })
    await sleep(1000)
    expect(await firing('node-b', rule.body.id)).toEqual([])
  }, 120_000)

  it.skipIf(!hasBroker)(
    'a device rule fires on the node whose device it is, and is sent once',
    async () => {
      await twoNodes('/device')
      const prefix = `myntrix-test/${randomBytes(6).toString('hex')}`
      // Created and connected through B: B holds the connection and hears its telemetry.
      const device = await call('node-b', 'POST', '/api/myntrix/devices', {
        name: 'hotend',
        connectionString: `mqtt://127.0.0.1:1883/${prefix}`,
      })
      expect(device.status, device.text).toBe(201)
      const connected = await call('node-b', 'POST', `/api/myntrix/devices/${device.body.id}/connect`)
      expect(connected.body.status, connected.text).toBe('connected')
      // The rule is made through A, which watches it too but hears none of the device's readings.
      const rule = await call('node-a', 'POST', '/api/myntrix/alert-rules', {
        name: 'too hot',
        condition: {
          source: 'device',
          deviceId: device.body.id,
          metric: 'temperature',
          operator: '>',
          threshold: 100,
        },
        cooldownSeconds: 0,
      })
      expect(rule.status, rule.text).toBe(201)
      await sleep(600)
      const far = await connectAsync('mqtt://127.0.0.1:1883', { reconnectPeriod: 0 })
      try {
        await far.publishAsync(`${prefix}/telemetry`, JSON.stringify({ temperature: 150 }), { qos: 1 })
        const [sent] = await receiver().waitFor('/device', 1)
        expect(sent!.body).toMatchObject({
          kind: 'alert.firing',
          details: { node: 'node-b', deviceId: device.body.id },
        })
        await sleep(1000)
        expect(receiver().to('/device')).toHaveLength(1)
        const alerts = (await call('node-a', 'GET', `/api/myntrix/alerts?ruleId=${rule.body.id}`))
          .body as any[]
        expect(alerts.map((a) => [a.node, a.state])).toEqual([['node-b', 'firing']])
      } finally {
        await far.endAsync(true)
      }
    },
    120_000,
  )
})
