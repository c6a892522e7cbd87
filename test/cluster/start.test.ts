// Starting beside peers on one PostgreSQL database: without Redis a second
// live instance is refused with one line (exit 2, like a bad setting); a
// cluster node refuses a peer outside the cluster; cluster nodes join, keep
// their membership fresh and leave at a clean stop. On its own without Redis a
// process writes nothing while idle, as before scale-out.

import { spawn } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/index.js'
import { ConfigError } from '../../src/errors.js'
import { InstanceRegistry } from '../../src/process/liveness.js'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { REDIS_URL, redisReachable } from '../helpers/redis.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres) console.warn('skipping cluster start-up tests: MYNTRIX_TEST_DATABASE_URL is not set')
if (!hasRedis) console.warn('skipping cluster start-up tests with Redis: no Redis on 127.0.0.1:6379')

const root = path.resolve(import.meta.dirname, '../..')

describe.skipIf(!postgres)('starting beside peers on PostgreSQL', () => {
  const apps: TestApp[] = []
  let testDb: TestDatabase

  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close()
    await testDb?.drop()
  })

  async function freshDb() {
    testDb = await postgres!.createDatabase()
    const h = testDb.open()
    await migrate(h)
    return h
  }

  /** A peer that is alive the way a process without Redis shows it: a fresh work heartbeat. */
  async function peerWithWork(name: string) {
    const h = await freshDb()
    await new InstanceRegistry(h.db, h.engine).heartbeat('peer-id', new Date(), { hostname: name, pid: 1 })
    await h.close()
  }

  async function start(env: Record<string, string> = {}) {
    const app = await createTestApp(postgres!, { testDb, env, seedUsers: apps.length === 0 })
    apps.push(app)
    return app
  }

  const nodeRows = async (app: TestApp) =>
    (
      await sql<{
        id: string
        name: string | null
        expires_at: unknown
      }>`select id, name, expires_at from nodes`.execute(app.database.db)
    ).rows

  it('refuses to start without Redis beside a live instance, naming it', async () => {
    await peerWithWork('peer-host')
    const err = await start().then(
      () => new Error('expected a refusal'),
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).variable).toBe('MYNTRIX_REDIS_URL')
    expect((err as Error).message).toMatch(/^MYNTRIX_REDIS_URL: is unset, but node "peer-host" is alive/)
  })

  it('exits 2 with that one line, like a bad setting', async () => {
    await peerWithWork('peer-host')
    const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: os.tmpdir(),
        MYNTRIX_DATA_DIR: testDb.dataDir,
        MYNTRIX_DATABASE_URL: testDb.url,
        MYNTRIX_PORT: '0',
        MYNTRIX_LOG_LEVEL: 'silent',
        MYNTRIX_ADMIN_PASSWORD: 'admin-password-1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)))
    expect(code).toBe(2)
    const lines = out.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^myntrix: invalid configuration: MYNTRIX_REDIS_URL: is unset, but node "peer-host"/,
    )
  })

  it('takes the fresh row of a killed process on this host for its predecessor, not a peer', async () => {
    const h = await freshDb()
    // A process that has exited: its pid is gone, its heartbeat is fresh (killed with work in flight).
    const gone = spawn('true')
    await new Promise((r) => gone.on('exit', r))
    await new InstanceRegistry(h.db, h.engine).heartbeat('killed-id', new Date(), {
      hostname: os.hostname(),
      pid: gone.pid!,
    })
    await h.close()
    const app = await start()
    expect(app.app.myntrix.context.cluster.leases).toBeNull()
  })

  it('starts alone without Redis and writes no membership while idle', async () => {
    await freshDb()
    const app = await start()
    expect(app.app.myntrix.context.cluster.leases).toBeNull()
    expect(await nodeRows(app)).toEqual([])
  })

  describe.skipIf(!hasRedis)('with Redis', () => {
    const cluster = (name: string) => ({ MYNTRIX_REDIS_URL: REDIS_URL, MYNTRIX_NODE_NAME: name })

    it('joins as a named node, beside another cluster node, and leaves at a clean stop', async () => {
      await freshDb()
      const a = await start(cluster('node-a'))
      const b = await start(cluster('node-b'))
      const rows = await nodeRows(a)
      expect(rows.map((r) => r.name).sort()).toEqual(['node-a', 'node-b'])
      expect(rows.every((r) => r.expires_at !== null)).toBe(true)
      await apps.pop()!.close()
      expect((await nodeRows(a)).map((r) => r.name)).toEqual(['node-a'])
      expect(b.app.myntrix.context.cluster.node.name).toBe('node-b')
    })

    it('refuses to join beside an instance running without Redis', async () => {
      await peerWithWork('loner')
      const err = await start(cluster('node-a')).then(
        () => new Error('expected a refusal'),
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as Error).message).toMatch(/is set, but node "loner" runs on this database without it/)
    })
  })
})
