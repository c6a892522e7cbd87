// End to end: the real server (src/main.ts in its own process) runs an agent and
// is killed with SIGKILL; the next server on the same database ends the orphaned
// process group (grandchild included) and starts the agent afresh.
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, createTestApp, type TestApp, USER_PASSWORD } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { isAlive, waitFor } from '../../helpers/processes.js'
import { node } from './helpers.js'

const ROOT = resolve(import.meta.dirname, '../../..')

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer()
    srv.on('error', fail)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => ok(port))
    })
  })
}

describe.each(testEngines())('a server killed with SIGKILL, on $name', (engine) => {
  let t: TestApp | null = null
  let server: ChildProcess | null = null
  const strays: number[] = []

  afterEach(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const gone = new Promise((r) => server!.once('exit', r))
      server.kill('SIGKILL')
      await gone
    }
    server = null
    for (const pgid of strays.splice(0)) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {}
    }
    await t?.dispose()
    t = null
  })

  it('leaves no orphan: the next start ends the old group and runs the agent again', async () => {
    t = await createTestApp(engine)
    const created = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: {
        name: 'survivor',
        configuration: { command: node('spawns-grandchild.mjs'), stopTimeoutMs: 300 },
      },
    })
    const id = created.body.id as string
    await t.close()

    // The real server on the same database, as its own process.
    const port = await freePort()
    server = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MYNTRIX_DATA_DIR: t.testDb.dataDir,
        MYNTRIX_DATABASE_URL: t.testDb.url,
        MYNTRIX_ADMIN_PASSWORD: ADMIN_PASSWORD,
        MYNTRIX_PORT: String(port),
        MYNTRIX_HOST: '127.0.0.1',
        MYNTRIX_LOG_LEVEL: 'silent',
      },
      stdio: 'ignore',
    })
    const base = `http://127.0.0.1:${port}`
    // No event crosses the process boundary: poll until the server answers.
    await waitFor(
      () =>
        fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      { what: 'server up', timeoutMs: 30_000 },
    )
    const login = await fetch(`${base}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'operator', password: USER_PASSWORD }),
    })
    const { access_token: token } = (await login.json()) as { access_token: string }
    const auth = { authorization: `Bearer ${token}` }
    const started = await fetch(`${base}/api/myntrix/agents/${id}/start`, { method: 'POST', headers: auth })
    expect(started.status).toBe(200)
    const { pid } = (await started.json()) as { pid: number }
    strays.push(pid)
    const grandchild = await waitFor(
      async () => {
        const res = await fetch(`${base}/api/myntrix/agents/${id}/logs`, { headers: auth })
        const lines = (await res.json()) as { line: string }[]
        const m = lines.map((l) => /^grandchild (\d+)$/.exec(l.line)).find(Boolean)
        return m ? Number(m[1]) : null
      },
      { what: 'the grandchild' },
    )

    const killed = new Promise((r) => server!.once('exit', r))
    server.kill('SIGKILL')
    await killed
    // Nothing stopped them: they are orphans now.
    expect(isAlive(pid)).toBe(true)
    expect(isAlive(grandchild)).toBe(true)

    t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false })
    expect(isAlive(pid)).toBe(false)
    expect(isAlive(grandchild)).toBe(false)
    const got = (await t.request('GET', `/api/myntrix/agents/${id}`, { as: t.operator })).body
    expect(got).toMatchObject({ status: 'running', desiredState: 'running' })
    expect(got.pid).not.toBe(pid)
    expect(isAlive(got.pid)).toBe(true)
  }, 60_000)
})
