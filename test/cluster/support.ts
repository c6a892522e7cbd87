// Shared by the multi-server cluster tests: real server processes (node-a,
// node-b, ...) on one PostgreSQL database and the local Redis with one JWT
// secret, calls to any of them, the agent processes counted by a marker in
// their command line, and signals to a server's own process (not tsx's).

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach } from 'vitest'
import type { TestDatabase, TestEngine } from '../helpers/engines.js'
import { clusterServerEnv } from '../helpers/redis.js'
import { type RunningServer, root, startServer } from '../helpers/server.js'

const tsx = path.join(root, 'node_modules/.bin/tsx')

/** Pids of the processes whose command line carries `marker`: an agent's copies. */
export function processesWith(marker: string): number[] {
  const pids: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (argv.includes(marker)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/** The pid of `parent`'s child: the server itself runs as tsx's child, and a signal reaches only the pid it names. */
function childOf(parent: number): number | undefined {
  const found = fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .find((e) => {
      try {
        return fs.readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(parent)
      } catch {
        return false
      }
    })
  return found === undefined ? undefined : Number(found)
}

export class TestCluster {
  readonly servers = new Map<string, RunningServer>()
  private readonly jwtSecret = randomBytes(32).toString('hex')
  /** Servers paused with SIGSTOP: continued before they are stopped. */
  private readonly paused = new Set<string>()

  constructor(
    readonly testDb: TestDatabase,
    private readonly baseEnv: Record<string, string> = {},
  ) {}

  async boot(name: string, env: Record<string, string> = {}): Promise<RunningServer> {
    const server = await startServer({
      command: [tsx, 'src/main.ts'],
      env: {
        ...clusterServerEnv(this.testDb.url, name, this.jwtSecret),
        ...(process.getuid?.() === 0 ? {} : { MYNTRIX_TRUST_OPERATORS: 'true' }),
        ...this.baseEnv,
        ...env,
      },
    })
    this.servers.set(name, server)
    return server
  }

  async restart(name: string, env: Record<string, string> = {}): Promise<RunningServer> {
    await this.servers.get(name)?.stop()
    this.servers.delete(name)
    return this.boot(name, env)
  }

  url(name: string): string {
    return this.servers.get(name)!.baseUrl
  }

  /** The admin's token, from any node (one JWT secret). */
  async adminToken(name: string): Promise<string> {
    const res = await fetch(`${this.url(name)}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: this.servers.get(name)!.adminPassword }),
    })
    return ((await res.json()) as { access_token: string }).access_token
  }

  async call(name: string, token: string, method: string, route: string, body?: unknown) {
    const res = await fetch(`${this.url(name)}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    return { status: res.status, body: (await res.json()) as any }
  }

  /** A `sim://marlin` device created through `node` (quiet: no reports, no polls); its id. */
  async simPrinter(node: string, token: string): Promise<string> {
    const created = await this.call(node, token, 'POST', '/api/myntrix/devices', {
      name: 'sim printer',
      connectionString: 'sim://marlin',
      configuration: { protocol: 'marlin', temperatureReport: 'off', statusPollMs: 0 },
    })
    if (created.status !== 201) throw new Error(`device not created: ${created.status}`)
    return created.body.id as string
  }

  /** The server process of `name` (tsx's child). */
  serverPid(name: string): number {
    const pid = childOf(this.servers.get(name)!.child.pid!)
    if (pid === undefined) throw new Error(`no server process under ${name}'s tsx`)
    return pid
  }

  /** kill -9 of the server process itself; resolves once it is gone and forgotten. */
  async kill(name: string): Promise<void> {
    const server = this.servers.get(name)!
    process.kill(this.serverPid(name), 'SIGKILL')
    await server.exited
    await server.stop()
    this.servers.delete(name)
  }

  pause(name: string): void {
    process.kill(this.serverPid(name), 'SIGSTOP')
    this.paused.add(name)
  }

  resume(name: string): void {
    process.kill(this.serverPid(name), 'SIGCONT')
    this.paused.delete(name)
  }

  async stopAll(): Promise<void> {
    for (const name of [...this.paused]) this.resume(name)
    for (const s of this.servers.values()) await s.stop()
    this.servers.clear()
  }
}

/**
 * One cluster per test, on a fresh database of `engine` (call inside a describe):
 * `create` makes it (servers booted by the test), `start` also boots `names` one
 * after another (the first runs the migrations) and logs the admin in on the last.
 * After each test its servers stop and its database is dropped.
 */
export function clusterPerTest(engine: TestEngine | undefined, baseEnv: Record<string, string> = {}) {
  let current: TestCluster | undefined
  afterEach(async () => {
    await current?.stopAll()
    await current?.testDb.drop()
    current = undefined
  })
  const create = async () => {
    current = new TestCluster(await engine!.createDatabase(), baseEnv)
    return current
  }
  return {
    create,
    get current(): TestCluster {
      if (!current) throw new Error('no cluster in this test yet')
      return current
    },
    async start(names: string[]): Promise<{ c: TestCluster; token: string }> {
      const c = await create()
      for (const name of names) await c.boot(name)
      return { c, token: await c.adminToken(names[names.length - 1]!) }
    },
  }
}
