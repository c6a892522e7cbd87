// Real Myntrix server processes forming a cluster on one fresh PostgreSQL
// database and the local Redis, with one JWT secret, as an operator runs them:
// boot, call their API as the admin, find the server process under tsx (which
// signals reach), and read the lease table the nodes share.

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import type { TestDatabase } from '../helpers/engines.js'
import { type RunningServer, root, startServer } from '../helpers/server.js'

const tsx = path.join(root, 'node_modules/.bin/tsx')

export class ClusterServers {
  readonly servers = new Map<string, RunningServer>()
  private readonly jwtSecret = randomBytes(32).toString('hex')
  private tokens = new Map<string, string>()

  constructor(
    readonly db: TestDatabase,
    /** Null: instances without Redis (one instance alone, for comparison). */
    private readonly redisUrl: string | null,
    private readonly defaults: Record<string, string> = {},
    /** How a server is started: tsx on the sources, or `['node', 'dist/main.js']` (the build). */
    private readonly command: string[] = [tsx, 'src/main.ts'],
  ) {}

  async boot(name: string, env: Record<string, string> = {}): Promise<RunningServer> {
    const server = await startServer({
      command: this.command,
      env: {
        MYNTRIX_DATABASE_URL: this.db.url,
        ...(this.redisUrl === null ? {} : { MYNTRIX_REDIS_URL: this.redisUrl }),
        MYNTRIX_NODE_NAME: name,
        MYNTRIX_JWT_SECRET: this.jwtSecret,
        ...(process.getuid?.() === 0 ? {} : { MYNTRIX_TRUST_OPERATORS: 'true' }),
        ...this.defaults,
        ...env,
      },
    })
    this.servers.set(name, server)
    return server
  }

  url(name: string): string {
    return this.servers.get(name)!.baseUrl
  }

  /** The admin's token (one JWT secret: good on every node). */
  async token(): Promise<string> {
    const cached = this.tokens.get('admin')
    if (cached) return cached
    const [name, server] = [...this.servers][0]!
    const res = await fetch(`${this.url(name)}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: server.adminPassword }),
    })
    const token = ((await res.json()) as { access_token: string }).access_token
    this.tokens.set('admin', token)
    return token
  }

  async call(name: string, method: string, route: string, body?: unknown) {
    return this.send(
      name,
      method,
      route,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? {} : { 'content-type': 'application/json' },
    )
  }

  /** A request with a body as it is (a multipart upload). */
  async send(name: string, method: string, route: string, body?: Buffer | string, headers = {}) {
    const res = await fetch(`${this.url(name)}${route}`, {
      method,
      headers: { authorization: `Bearer ${await this.token()}`, ...headers },
      body,
    })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  }

  /** The server process itself: tsx's child, which a signal sent to tsx would not reach. */
  serverPid(name: string): number {
    const parent = String(this.servers.get(name)!.child.pid)
    if (this.command[0] !== tsx) return Number(parent)
    const inner = fs
      .readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .find((e) => {
        try {
          return fs.readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === parent
        } catch {
          return false
        }
      })
    if (!inner) throw new Error(`no server process under tsx for ${name}`)
    return Number(inner)
  }

  /** SIGKILL of the server process; waits for it to be gone. */
  async kill(name: string): Promise<void> {
    const server = this.servers.get(name)!
    process.kill(this.serverPid(name), 'SIGKILL')
    await server.exited
    await server.stop()
    this.servers.delete(name)
  }

  /** Who holds a resource now (an unexpired lease), from the table every node reads. */
  async holder(kind: string, id: string): Promise<{ name: string; epoch: number } | null> {
    const client = new pg.Client({ connectionString: this.db.url.split('?')[0] })
    await client.connect()
    try {
      const { rows } = await client.query(
        `select holder_name, epoch from ${this.db.schema}.resource_leases
         where kind = $1 and id = $2 and holder_node_id is not null and expires_at > statement_timestamp()`,
        [kind, id],
      )
      const row = rows[0] as { holder_name: string; epoch: string } | undefined
      return row ? { name: row.holder_name, epoch: Number(row.epoch) } : null
    } finally {
      await client.end()
    }
  }

  async stopAll(): Promise<void> {
    for (const s of this.servers.values()) await s.stop()
    this.servers.clear()
  }
}
