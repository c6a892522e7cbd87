// A transfer whose server dies: killed with SIGKILL mid-job, the next start
// ends the job `interrupted` with the checkpoint the dead server persisted
// (not `failed` without one), and a restart from it streams the rest; stopped
// gracefully, the server itself ends the job `interrupted`.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fromDbJson } from '../../../src/db/values.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { killServers, startServer } from '../../helpers/crash-server.js'
import { type TestDatabase, testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../../helpers/pty.js'
import { EmulatorProcess } from '../devices/support.js'
import { gcode, jobFinished, jobWhere, multipart, serialDevice, upload } from './support.js'

if (!hasSocat) console.warn('skipping server-kill transfer tests: socat is not installed')

/** The job's row as the database holds it. */
async function jobRow(testDb: TestDatabase, jobId: string) {
  const handle = testDb.open()
  try {
    const row = await handle.db
      .selectFrom('jobs')
      .select(['status', 'checkpoint'])
      .where('id', '=', jobId)
      .executeTakeFirstOrThrow()
    return { status: row.status, checkpoint: fromDbJson(row.checkpoint) as { lastAckedLine: number } | null }
  } finally {
    await handle.close()
  }
}

const ENV = { MYNTRIX_TRANSFER_CHECKPOINT_LINES: '5' }

describe.skipIf(!hasSocat).each(testEngines())('a transfer when its server dies, on $name', (engine) => {
  let t: TestApp | null
  let dir: string
  let pty: PtyPair
  let emulator: EmulatorProcess

  beforeEach(async () => {
    t = null
    dir = makePtyDir()
    pty = await startPtyPair(dir)
    emulator = await EmulatorProcess.start('pty-emulator.ts', ['marlin', pty.emulatorPath, '{}'])
  })
  afterEach(async () => {
    await killServers()
    await t?.dispose()
    await emulator.kill()
    await pty.stop()
    removePtyDir(dir)
  })

  it('kill -9 mid-job: the next start ends it interrupted with the persisted checkpoint; a restart streams the rest', async () => {
    t = await createTestApp(engine, { env: ENV })
    const id = await serialDevice(t, dir, 'marlin')
    await t.request('POST', `/api/myntrix/devices/${id}/disconnect`, { as: t.operator })
    const testDb = t.testDb
    await t.close()

    const server = await startServer(testDb, ENV)
    const token = await server.login('operator')
    expect((await server.request('POST', `/api/myntrix/devices/${id}/connect`, token)).status).toBe(200)
    const file = gcode(3000)
    const { body, headers } = multipart([{ name: 'file', filename: 'long.gcode', content: file.text }])
    const sent = await fetch(`${server.base}/api/myntrix/devices/${id}/upload`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${token}` },
      body,
    })
    expect(sent.status).toBe(202)
    const jobId = ((await sent.json()) as { job: { id: string } }).job.id
    await waitFor(async () => ((await jobRow(testDb, jobId)).checkpoint?.lastAckedLine ?? 0) > 50, {
      what: 'a checkpoint past line 50',
    })
    await server.kill9()
    const persisted = await jobRow(testDb, jobId)
    expect(persisted.status).toBe('running')

    t = await createTestApp(engine, { testDb, seedUsers: false, env: ENV })
    const job = (await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })).body
    expect(job.status).toBe('interrupted')
    expect(job.checkpoint).toEqual(persisted.checkpoint)
    const last = job.checkpoint.lastAckedLine as number

    await t.request('POST', `/api/myntrix/devices/${id}/connect`, { as: t.operator })
    const before = emulator.received().length
    const restarted = await t.request('POST', `/api/myntrix/jobs/${jobId}/restart`, {
      as: t.operator,
      body: { confirm: true },
    })
    expect(restarted.status).toBe(202)
    expect(restarted.body.plan.fromLine).toBe(last + 1)
    expect((await jobFinished(t, restarted.body.job.id, 60_000)).status).toBe('completed')
    await emulator.waitForLine(new RegExp(`^rx ${file.moves[2999]}$`))
    expect(emulator.received().slice(before)).toEqual([
      ...restarted.body.plan.preamble.lines,
      ...file.moves.slice(last - 1),
    ])
  })

  it('a graceful stop mid-job ends it interrupted with its checkpoint, and the next start leaves it so', async () => {
    t = await createTestApp(engine, { env: ENV })
    const id = await serialDevice(t, dir, 'marlin')
    const res = await upload(t, id, 'long.gcode', gcode(3000).text)
    const jobId = res.body.job.id as string
    await jobWhere(t, jobId, (j) => Number(j.details?.linesAcknowledged ?? 0) > 30)
    const testDb = t.testDb
    await t.close()
    const stopped = await jobRow(testDb, jobId)
    expect(stopped.status).toBe('interrupted')
    expect(stopped.checkpoint?.lastAckedLine).toBeGreaterThan(30)

    t = await createTestApp(engine, { testDb, seedUsers: false, env: ENV })
    const job = (await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })).body
    expect(job).toMatchObject({ status: 'interrupted', checkpoint: stopped.checkpoint })
    expect(job.error).toMatch(/the server is shutting down/)
  })
})
