// The real server (src/main.ts under tsx) as its own process on a test database, for the
// tests that kill it with SIGKILL: what a crash leaves behind can only be seen
// from outside the process that crashed.

import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { ADMIN_PASSWORD, USER_PASSWORD } from './app.js'
import type { TestDatabase } from './engines.js'
import { freePort } from './ports.js'
import { waitFor } from './processes.js'
import { jsonRequest } from './server.js'

const ROOT = resolve(import.meta.dirname, '../..')

export interface RealServer {
  readonly child: ChildProcess
  readonly base: string
  /** A bearer token for a seeded user (`admin`, `operator`, ...). */
  login(username: string): Promise<string>
  request<T = any>(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>
  /** SIGKILL: nothing of the server's shutdown runs. */
  kill9(): Promise<void>
  /** SIGTERM: a graceful stop (agents stopped, database closed); resolves with the exit code. */
  stop(): Promise<number | null>
}

const running = new Set<RealServer>()

/** Servers a test left running; kill them in afterEach. */
export async function killServers(): Promise<void> {
  for (const s of [...running]) await s.kill9()
}

/** The server process on `port`, without waiting for it (see startServer). */
export function spawnServer(testDb: TestDatabase, port: number, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MYNTRIX_DATA_DIR: testDb.dataDir,
      MYNTRIX_DATABASE_URL: testDb.url,
      MYNTRIX_ADMIN_PASSWORD: ADMIN_PASSWORD,
      MYNTRIX_PORT: String(port),
      MYNTRIX_HOST: '127.0.0.1',
      MYNTRIX_LOG_LEVEL: 'silent',
      MYNTRIX_LOGIN_MAX_ATTEMPTS: '50',
      // As in test/helpers/app.ts: without root, operators' agents share the server's user.
      ...(process.getuid?.() === 0 ? {} : { MYNTRIX_TRUST_OPERATORS: 'true' }),
      ...env,
    },
    stdio: 'ignore',
  })
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)))
  return { child, exited }
}

export async function startServer(
  testDb: TestDatabase,
  env: Record<string, string> = {},
): Promise<RealServer> {
  const port = await freePort()
  const { child, exited } = spawnServer(testDb, port, env)
  const base = `http://127.0.0.1:${port}`
  const server: RealServer = {
    child,
    base,
    async login(username) {
      const res = await fetch(`${base}/api/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: username === 'admin' ? ADMIN_PASSWORD : USER_PASSWORD }),
      })
      if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`)
      return ((await res.json()) as { access_token: string }).access_token
    },
    request: (method, path, token, body) => jsonRequest(base, method, path, token, body),
    async kill9() {
      running.delete(server)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
    async stop() {
      running.delete(server)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return exited
    },
  }
  running.add(server)
  // No event crosses the process boundary: poll until the server answers (or has died).
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`)
      return fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    },
    { what: 'server up', timeoutMs: 30_000, intervalMs: 50 },
  )
  return server
}
