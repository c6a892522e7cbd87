// A script task's process after the server is killed with SIGKILL: its run records
// the process group when it starts, and whoever fails the run afterwards (the next
// start, or a live peer's reaper) ends the group first, so a retry never runs
// beside the old copy.

import { afterEach, describe, expect, it } from 'vitest'
import { decodeProcess } from '../../../src/process/identity.js'
import { groupMembers } from '../../../src/process/proc.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { killServers, startServer } from '../../helpers/crash-server.js'
import type { TestDatabase } from '../../helpers/engines.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'

/** The recorded process group of a run, read straight from the database. */
async function recordedGroup(testDb: TestDatabase, runId: string): Promise<number | null> {
  const handle = testDb.open()
  try {
    const row = await handle.db.selectFrom('taskRuns').selectAll().where('id', '=', runId).executeTakeFirst()
    const r = row as { pid?: unknown; pidStartTime?: string | null } | undefined
    return decodeProcess(r?.pid, r?.pidStartTime ?? null)?.pid ?? null
  } finally {
    await handle.close()
  }
}

describe.each(testEngines())('a script task when its server is killed with SIGKILL, on $name', (engine) => {
  let t: TestApp | null = null
  const groups: number[] = []

  afterEach(async () => {
    await killServers()
    for (const pgid of groups.splice(0)) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {}
    }
    await t?.dispose()
    t = null
  })

  /** A server process running `sleep <n>` as a script task; resolves once the group is recorded. */
  async function runScriptOnServer(testDb: TestDatabase, taskId: string, env: Record<string, string> = {}) {
    const server = await startServer(testDb, env)
    const admin = await server.login('admin')
    const run = await server.request('POST', `/api/myntrix/tasks/${taskId}/run`, admin)
    expect(run.status).toBe(202)
    const runId = run.body.id as string
    const pgid = await waitFor(() => recordedGroup(testDb, runId), { what: 'the recorded process group' })
    groups.push(pgid)
    await waitFor(() => groupMembers(pgid).some((m) => m.comm === 'sleep'), { what: 'the sleep' })
    return { server, runId, pgid }
  }

  async function createSleepTask(seconds: number) {
    t = await createTestApp(engine)
    const task = await t.request('POST', '/api/myntrix/tasks', {
      as: t.admin,
      body: {
        name: 'sleeper',
        schedule: '@yearly',
        action: 'script',
        payload: { command: `sleep ${seconds}`, shell: true },
      },
    })
    expect(task.status).toBe(201)
    return task.body.id as string
  }

  it('the next start ends the group before it fails the run', async () => {
    const taskId = await createSleepTask(1002)
    const testDb = t!.testDb
    await t!.close()
    const { server, runId, pgid } = await runScriptOnServer(testDb, taskId)

    await server.kill9()
    // Nothing ended it: it is an orphan now.
    expect(groupMembers(pgid).length).toBeGreaterThan(0)

    t = await createTestApp(engine, { testDb, seedUsers: false })
    expect(groupMembers(pgid)).toEqual([])
    const run = (await t.request('GET', `/api/myntrix/tasks/runs/${runId}`, { as: t.admin })).body
    expect(run.status).toBe('failed')
    expect(await recordedGroup(testDb, runId)).toBeNull()
  }, 120_000)

  it("a live peer's reaper ends the group before it fails the run", async () => {
    const taskId = await createSleepTask(1003)
    const testDb = t!.testDb
    await t!.close()
    const fast = { MYNTRIX_SCHEDULER_HEARTBEAT_MS: '200' }
    // The peer runs throughout, as a second instance on the same database would.
    t = await createTestApp(engine, { testDb, seedUsers: false, env: fast })
    const { server, runId, pgid } = await runScriptOnServer(testDb, taskId, fast)

    await server.kill9()
    await waitFor(() => groupMembers(pgid).length === 0, {
      what: 'the peer to end the group',
      timeoutMs: 20_000,
    })
    const run = await waitFor(
      async () => {
        const r = (await t!.request('GET', `/api/myntrix/tasks/runs/${runId}`, { as: t!.admin })).body
        return r.status === 'failed' ? r : null
      },
      { what: 'the run to be failed' },
    )
    expect(run.error).toMatch(/stopped during the run/)
  }, 120_000)

  it('a run that ends normally leaves no process recorded', async () => {
    t = await createTestApp(engine)
    const task = await t.request('POST', '/api/myntrix/tasks', {
      as: t.admin,
      body: { name: 'quick', schedule: '@yearly', action: 'script', payload: { command: ['true'] } },
    })
    const run = await t.request('POST', `/api/myntrix/tasks/${task.body.id}/run`, { as: t.admin })
    await waitFor(
      async () =>
        (await t!.request('GET', `/api/myntrix/tasks/runs/${run.body.id}`, { as: t!.admin })).body.status ===
        'success',
      { what: 'the run to succeed' },
    )
    expect(await recordedGroup(t.testDb, run.body.id)).toBeNull()
  })
})
