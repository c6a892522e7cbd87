// Job attribution and statistics through the real app, on every engine, with
// real jobs: transfers to sim:// printers and a mill started by a user's
// token, by an API key, by a scheduled task, and ended every way a transfer
// ends (completed, cancelled, interrupted by a disconnect, failed by error:N).

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { jobFinished, multipart, upload } from '../device-files/support.js'

type Job = { id: string; status: string; startedBy: string | null; startedAt: string; finishedAt: string }
type Group = { key: string | null; total: number; byStatus: Record<string, number>; runTimeMs: number }

describe.each(testEngines())('job attribution and statistics on $name', (engine) => {
  let t: TestApp

  beforeEach(async () => {
    t = await createTestApp(engine)
  })
  afterEach(async () => {
    await t.dispose()
  })

  async function device(as: TestUser, connectionString = 'sim://marlin', configuration = {}) {
    const created = await t.request('POST', '/api/myntrix/devices', {
      as,
      body: {
        name: 'printer',
        connectionString,
        configuration: { temperatureReport: 'off', ...configuration },
      },
    })
    expect(created.status).toBe(201)
    const id = created.body.id as string
    expect((await t.request('POST', `/api/myntrix/devices/${id}/connect`, { as })).status).toBe(200)
    return id
  }

  const finished = async (jobId: string): Promise<Job> => {
    await jobFinished(t, jobId)
    return (await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.admin })).body
  }

  const stats = (query: string, as: TestUser = t.operator) =>
    t.request('GET', `/api/myntrix/jobs/stats${query}`, { as })

  const runTime = (jobs: Job[]) =>
    jobs.reduce((sum, j) => sum + (Date.parse(j.finishedAt) - Date.parse(j.startedAt)), 0)

  it('records who started each job and counts outcomes and run time by user, device, type and day', async () => {
    const printer = await device(t.operator)
    const mill = await device(t.operator, 'sim://grbl')
    const foreign = await device(t.operator2)
    // A dwell may wait 100 ms for its ok: the sim's 1 s dwell (busy: every 2 s) runs out.
    const impatient = await device(t.operator, 'sim://marlin', { commandTimeouts: { G4: 100 } })

    // A user's token: completed.
    const first = await upload(t, printer, 'part.gcode', 'G28\nG1 X1\nG1 X2\n')
    const byUser = await finished(first.body.job.id)
    expect(byUser).toMatchObject({ status: 'completed', startedBy: `user:${t.operator.id}` })

    // The same user's API key: completed, told apart from the user.
    const key = (await t.request('POST', '/api/auth/api-keys', { as: t.operator, body: { name: 'ci' } })).body
    const sent = await t.request('POST', `/api/myntrix/devices/${printer}/files/${first.body.file.id}/send`, {
      token: key.key,
    })
    expect(sent.status).toBe(202)
    const byKey = await finished(sent.body.job.id)
    expect(byKey).toMatchObject({ status: 'completed', startedBy: `api-key:${key.id}` })

    // Cancelled by the user mid-file.
    const slow = await upload(t, printer, 'slow.gcode', 'G4 P100\n'.repeat(50))
    await t.request('POST', `/api/myntrix/jobs/${slow.body.job.id}/cancel`, { as: t.operator })
    const cancelled = await finished(slow.body.job.id)
    expect(cancelled.status).toBe('cancelled')

    // Interrupted: the firmware went silent past the command's timeout.
    const long = await upload(t, impatient, 'long.gcode', 'G1 X1\nG4 P1000\nG1 X2\n')
    const interrupted = await finished(long.body.job.id)
    expect(interrupted.status).toBe('interrupted')

    // Failed: GRBL refuses a line.
    const bad = await upload(t, mill, 'bad.nc', 'G0 X1\nG999\nG0 X2\n')
    const failed = await finished(bad.body.job.id)
    expect(failed.status).toBe('failed')

    // Another owner's job.
    const other = await upload(t, foreign, 'x.gcode', 'G28\n', { as: t.operator2 })
    const othersJob = await finished(other.body.job.id)
    expect(othersJob.startedBy).toBe(`user:${t.operator2.id}`)

    const mine = [byUser, byKey, cancelled, interrupted, failed]
    const userJobs = [byUser, cancelled, interrupted, failed]

    const users = await stats('?groupBy=user')
    expect(users.status).toBe(200)
    expect(users.body.groupBy).toBe('user')
    const userGroups: Group[] = users.body.groups
    // Sorted by key: api-key:... before user:...; operator2's job is not the operator's to see.
    expect(userGroups.map((g) => g.key)).toEqual([`api-key:${key.id}`, `user:${t.operator.id}`])
    expect(userGroups[0]).toEqual({
      key: `api-key:${key.id}`,
      total: 1,
      byStatus: { pending: 0, running: 0, completed: 1, failed: 0, cancelled: 0, interrupted: 0 },
      runTimeMs: expect.any(Number),
    })
    expect(userGroups[1]).toMatchObject({
      total: 4,
      byStatus: { pending: 0, running: 0, completed: 1, failed: 1, cancelled: 1, interrupted: 1 },
    })
    // Run time is the sum of finishedAt - startedAt (each rounded to the millisecond on the way).
    expect(Math.abs((userGroups[1]?.runTimeMs ?? 0) - runTime(userJobs))).toBeLessThanOrEqual(4)
    expect(Math.abs((userGroups[0]?.runTimeMs ?? 0) - runTime([byKey]))).toBeLessThanOrEqual(1)
    expect(userGroups[1]?.runTimeMs).toBeGreaterThan(0)

    const devices = (await stats('?groupBy=device')).body.groups as Group[]
    expect(devices.map((g) => [g.key, g.total])).toEqual(
      [
        [printer, 3],
        [mill, 1],
        [impatient, 1],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    )

    // Admins see every owner's jobs.
    const all = (await stats('?groupBy=device', t.admin)).body.groups as Group[]
    expect(all.find((g) => g.key === foreign)).toMatchObject({ total: 1, byStatus: { completed: 1 } })

    const types = (await stats('?groupBy=type')).body.groups as Group[]
    expect(types).toEqual([
      {
        key: 'device-transfer',
        total: 5,
        byStatus: { pending: 0, running: 0, completed: 2, failed: 1, cancelled: 1, interrupted: 1 },
        runTimeMs: expect.any(Number),
      },
    ])
    expect(Math.abs((types[0]?.runTimeMs ?? 0) - runTime(mine))).toBeLessThanOrEqual(5)

    const day = (await stats('?groupBy=day')).body.groups as Group[]
    const days = [...new Set(mine.map((j) => j.startedAt.slice(0, 10)))]
    expect(day.map((g) => g.key)).toEqual(days)
    expect(day.reduce((n, g) => n + g.total, 0)).toBe(5)

    // The range is on creation time: [from, to).
    const before = new Date(Date.parse(byUser.startedAt) - 1).toISOString()
    expect((await stats(`?groupBy=type&to=${encodeURIComponent(byUser.startedAt)}`)).body.groups).toEqual([])
    const since = await stats(`?groupBy=type&from=${encodeURIComponent(before)}`)
    expect(since.body.groups[0].total).toBe(5)
    expect(since.body.from).toBe(before)
    const afterAll = new Date(Date.now() + 60_000).toISOString()
    expect((await stats(`?groupBy=type&from=${encodeURIComponent(afterAll)}`)).body.groups).toEqual([])

    // A viewer sees only its own (none).
    const viewer = await stats('?groupBy=user', t.viewer)
    expect(viewer.status).toBe(200)
    expect(viewer.body.groups).toEqual([])
  })

  it('a scheduled task run and the transfer it starts are attributed to the scheduler', async () => {
    const printer = await device(t.operator)
    const { body, headers } = multipart([{ name: 'file', filename: 'p.gcode', content: 'G28\nG1 X1\n' }])
    const stored = await t.request('POST', `/api/myntrix/devices/${printer}/upload?send=false`, {
      as: t.operator,
      body,
      headers,
    })
    expect(stored.status).toBe(200)
    const task = await t.request('POST', '/api/myntrix/tasks', {
      as: t.operator,
      body: {
        name: 'print',
        schedule: '@daily',
        enabled: false,
        action: { type: 'device', deviceId: printer, fileId: stored.body.file.id },
      },
    })
    expect(task.status).toBe(201)
    const run = await t.request('POST', `/api/myntrix/tasks/${task.body.id}/run`, { as: t.operator })
    expect(run.status).toBe(202)
    let transfer: Job | undefined
    for (let i = 0; i < 200 && !transfer; i++) {
      const jobs = await t.request('GET', '/api/myntrix/jobs?type=device-transfer&status=completed', {
        as: t.operator,
      })
      transfer = jobs.body[0]
      if (!transfer) await new Promise((r) => setTimeout(r, 50))
    }
    expect(transfer?.startedBy).toBe('scheduler')
    const users = (await stats('?groupBy=user')).body.groups as Group[]
    expect(users.map((g) => g.key)).toEqual(['scheduler'])
    expect(users[0]?.total).toBeGreaterThanOrEqual(1)
  })

  it('answers 400 for bad parameters', async () => {
    const cases: Array<[string, string]> = [
      ['?groupBy=owner', 'query.groupBy'],
      ['?groupBy=day&from=yesterday', 'query.from'],
      ['?to=2026-13-45T00:00:00Z', 'query.to'],
      ['?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'query.to'],
      ['?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'query.to'],
    ]
    for (const [query, path] of cases) {
      const res = await stats(query)
      expect(res.status, query).toBe(400)
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        query,
      ).toContain(path)
    }
    expect((await t.request('GET', '/api/myntrix/jobs/stats')).status).toBe(401)
  })
})
