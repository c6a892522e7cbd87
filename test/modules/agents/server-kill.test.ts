// End to end: the real server (src/main.ts in its own process) starts an agent's
// process by one of the four paths there are (the API, a crash restart, start-up
// reconciliation, a scheduler action) and is then killed with SIGKILL; the next
// server on the same database must end that process group (grandchildren
// included) rather than leave it running beside the agent it starts afresh.

import fs from 'node:fs'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { groupMembers } from '../../../src/process/proc.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { killServers, type RealServer, spawnServer, startServer } from '../../helpers/crash-server.js'
import { type TestDatabase, testEngines } from '../../helpers/engines.js'
import { freePort } from '../../helpers/ports.js'
import { isAlive, waitFor } from '../../helpers/processes.js'
import { node } from './helpers.js'

describe.each(testEngines())('an agent when its server is killed with SIGKILL, on $name', (engine) => {
  let t: TestApp | null = null
  const groups: number[] = []
  const dirs: string[] = []

  afterEach(async () => {
    await killServers()
    for (const pgid of groups.splice(0)) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {}
    }
    await t?.dispose()
    t = null
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
  })

  /** Creates the agent through a test app, which is then closed, leaving the database. */
  async function createAgent(configuration: Record<string, unknown>) {
    t = await createTestApp(engine)
    const created = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: { name: 'survivor', configuration: { stopTimeoutMs: 300, ...configuration } },
    })
    expect(created.status).toBe(201)
    const testDb = t.testDb
    await t.close()
    return { id: created.body.id as string, testDb }
  }

  /** The agent's process as the server reports it, once `ready` holds. */
  async function runningPid(
    server: RealServer,
    token: string,
    id: string,
    ready: (a: { status: string; pid: number | null; restarts: number }) => boolean = (a) =>
      a.status === 'running',
  ): Promise<number> {
    const agent = await waitFor(
      async () => {
        const a = (await server.request('GET', `/api/myntrix/agents/${id}`, token)).body
        return a.pid !== null && ready(a) ? a : null
      },
      { what: 'the agent running', timeoutMs: 20_000 },
    )
    groups.push(agent.pid)
    return agent.pid
  }

  /** Kills the server, then checks that the next start ends the group it left. */
  async function killAndRestart(server: RealServer, testDb: TestDatabase, pgid: number) {
    await server.kill9()
    // Nothing stopped it: an orphan now.
    expect(groupMembers(pgid).length).toBeGreaterThan(0)
    t = await createTestApp(engine, { testDb, seedUsers: false })
    expect(isAlive(pgid)).toBe(false)
    expect(groupMembers(pgid)).toEqual([])
  }

  const start = (testDb: TestDatabase) => startServer(testDb)

  it('started through the API', async () => {
    const { id, testDb } = await createAgent({ command: node('spawns-grandchild.mjs') })
    const server = await start(testDb)
    const token = await server.login('operator')
    expect((await server.request('POST', `/api/myntrix/agents/${id}/start`, token)).status).toBe(200)
    const pid = await runningPid(server, token, id)
    await waitFor(() => groupMembers(pid).length >= 2, { what: 'the grandchild' })

    await killAndRestart(server, testDb, pid)
    const again = (await t!.request('GET', `/api/myntrix/agents/${id}`, { as: t!.operator })).body
    expect(again).toMatchObject({ status: 'running', desiredState: 'running' })
    expect(again.pid).not.toBe(pid)
    expect(isAlive(again.pid)).toBe(true)
  }, 120_000)

  it('restarted by the supervisor after a crash', async () => {
    // Exits 3 the first time, runs the second: a crash restart starts the survivor.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-crash-once-'))
    dirs.push(dir)
    fs.chmodSync(dir, 0o777) // the agent runs as nobody
    const marker = path.join(dir, 'crashed')
    const script = `if [ -e ${marker} ]; then echo ready; exec sleep 1000; fi; touch ${marker}; exit 3`
    const { id, testDb } = await createAgent({ command: ['/bin/sh', '-c', script], restartPolicy: 'always' })
    const server = await start(testDb)
    const token = await server.login('operator')
    const first = await server.request('POST', `/api/myntrix/agents/${id}/start`, token)
    expect(first.status).toBe(200)
    const pid = await runningPid(server, token, id, (a) => a.status === 'running' && a.restarts >= 1)
    expect(pid).not.toBe(first.body.pid)

    await killAndRestart(server, testDb, pid)
    const again = (await t!.request('GET', `/api/myntrix/agents/${id}`, { as: t!.operator })).body
    expect(again.status).toBe('running')
    expect(again.pid).not.toBe(pid)
  }, 120_000)

  it('resumed at start-up after a graceful stop (issue 22)', async () => {
    const { id, testDb } = await createAgent({ command: node('spawns-grandchild.mjs') })
    const first = await start(testDb)
    let token = await first.login('operator')
    expect((await first.request('POST', `/api/myntrix/agents/${id}/start`, token)).status).toBe(200)
    const firstPid = await runningPid(first, token, id)
    expect(await first.stop()).toBe(0)
    expect(groupMembers(firstPid)).toEqual([])

    // The agent comes back by itself...
    const second = await start(testDb)
    token = await second.login('operator')
    const pid = await runningPid(second, token, id)
    await waitFor(() => groupMembers(pid).length >= 2, { what: 'the grandchild' })

    // ...and is not left behind by a crash.
    await killAndRestart(second, testDb, pid)
    const again = (await t!.request('GET', `/api/myntrix/agents/${id}`, { as: t!.operator })).body
    expect(again.status).toBe('running')
    expect(again.pid).not.toBe(pid)
  }, 120_000)

  it('started by a start-up that then fails (port in use) is stopped, not left behind', async () => {
    // How the issue-22 orphan arises: `kill -9` of the `npm start` pid leaves the real
    // server running; the next start resumes the agent, cannot listen, and exits.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-pidfile-'))
    dirs.push(dir)
    fs.chmodSync(dir, 0o777) // the agent runs as nobody
    const pidFile = path.join(dir, 'pid')
    const { id, testDb } = await createAgent({
      command: ['/bin/sh', '-c', `echo $$ > ${pidFile}; exec sleep 1000`],
    })
    const handle = testDb.open()
    await handle.db.updateTable('agents').set({ desiredState: 'running' }).where('id', '=', id).execute()
    await handle.close()
    const busy = createServer()
    const port = await freePort()
    await new Promise<void>((ok) => busy.listen(port, '127.0.0.1', ok))
    try {
      const { exited } = spawnServer(testDb, port)
      expect(await exited).toBe(1)
    } finally {
      await new Promise((ok) => busy.close(ok))
    }
    const pid = Number(fs.readFileSync(pidFile, 'utf8'))
    groups.push(pid)
    expect(isAlive(pid)).toBe(false)
  }, 120_000)

  it.each(['start', 'run'])(
    'started by a scheduled `agent` action (%s)',
    async (operation) => {
      const { id, testDb } = await createAgent({ command: node('spawns-grandchild.mjs') })
      t = await createTestApp(engine, { testDb, seedUsers: false })
      const task = await t.request('POST', '/api/myntrix/tasks', {
        as: t.operator,
        body: { name: 'starter', schedule: '@yearly', action: 'agent', payload: { agentId: id, operation } },
      })
      expect(task.status).toBe(201)
      await t.close()
      const server = await start(testDb)
      const token = await server.login('operator')
      const run = await server.request('POST', `/api/myntrix/tasks/${task.body.id}/run`, token)
      expect(run.status).toBe(202)
      const pid = await runningPid(server, token, id)
      await waitFor(() => groupMembers(pid).length >= 2, { what: 'the grandchild' })

      await killAndRestart(server, testDb, pid)
      const again = (await t!.request('GET', `/api/myntrix/agents/${id}`, { as: t!.operator })).body
      // `start` meant it to run on; `run` was one run, which the crash ended.
      expect(again.status).toBe(operation === 'start' ? 'running' : 'stopped')
      const finished = (
        await t!.request('GET', `/api/myntrix/tasks/runs/${run.body.id}`, { as: t!.operator })
      ).body
      if (operation === 'run') expect(finished.status).toBe('failed')
    },
    120_000,
  )
})
