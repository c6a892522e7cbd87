// An interrupted print restarted through a node that does not hold the
// printer: three real server processes on one fresh PostgreSQL database and
// the local Redis. A transfer streams to a sim://marlin device held by A; A
// gets SIGKILL mid-job; a survivor ends the job `interrupted` with its
// persisted checkpoint and takes the device over; the operator previews and
// restarts the job through the third node, whose request (and the restart
// plan it computed) crosses to the holder, which streams the preamble and the
// rest of the file to completion.

import { afterEach, describe, expect, it } from 'vitest'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'
import { REDIS_URL, redisReachable } from '../helpers/redis.js'
import { multipart } from '../modules/device-files/support.js'
import { ClusterServers } from './servers.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres || !hasRedis) console.warn('skipping the cluster restart test: it needs PostgreSQL and Redis')

const DEVICES = '/api/myntrix/devices'
const FAST = { MYNTRIX_LEASE_TTL_MS: '2000', MYNTRIX_LEASE_RENEW_MS: '500' }
/** 2 + 2 × 150 lines: a dwell before each move keeps the job running for seconds. */
const MOVES = 150
const GCODE = `G21\nG90\n${Array.from({ length: MOVES }, (_, i) => `G4 P20\nG1 X${i + 1} F600\n`).join('')}`
const TOTAL_LINES = 2 + 2 * MOVES

type Json = Record<string, any>

describe.skipIf(!postgres || !hasRedis)('restart through a node without the device', () => {
  let testDb: TestDatabase
  let cluster: ClusterServers

  afterEach(async () => {
    await cluster?.stopAll()
    await testDb?.drop()
  })

  it('kill -9 of the holder mid-job; preview and restart through a third node complete on the new holder', async () => {
    testDb = await postgres!.createDatabase()
    cluster = new ClusterServers(testDb, REDIS_URL, FAST)
    for (const name of ['node-a', 'node-b', 'node-c']) await cluster.boot(name)
    const job = (via: string, id: string) =>
      cluster.call(via, 'GET', `/api/myntrix/jobs/${id}`).then((r) => r.body as Json)

    const created = await cluster.call('node-a', 'POST', DEVICES, {
      name: 'printer',
      connectionString: 'sim://marlin',
      configuration: { temperatureReport: 'off' },
    })
    expect(created.status).toBe(201)
    const id = created.body.id as string
    expect((await cluster.call('node-a', 'POST', `${DEVICES}/${id}/connect`)).status).toBe(200)
    expect((await cluster.holder('device', id))?.name).toBe('node-a')

    const { body, headers } = multipart([{ name: 'file', filename: 'part.gcode', content: GCODE }])
    const sent = await cluster.send('node-a', 'POST', `${DEVICES}/${id}/upload`, body, headers)
    expect(sent.status, JSON.stringify(sent.body)).toBe(202)
    const jobId = sent.body.job.id as string
    // A checkpoint well into the file is in the database before the kill.
    await waitFor(async () => ((await job('node-b', jobId)).checkpoint?.lastAckedLine ?? 0) >= 40, {
      what: 'a checkpoint past line 40',
      timeoutMs: 30_000,
    })
    await cluster.kill('node-a')

    // A survivor ends the dead node's job interrupted, keeping the checkpoint it wrote.
    const interrupted = await waitFor(
      async () => {
        const j = await job('node-b', jobId)
        return j.status === 'interrupted' ? j : null
      },
      { what: 'the job interrupted by a survivor', timeoutMs: 45_000 },
    )
    const checkpoint = interrupted.checkpoint as { lastAckedLine: number }
    expect(checkpoint.lastAckedLine).toBeGreaterThanOrEqual(40)
    expect(checkpoint.lastAckedLine).toBeLessThan(TOTAL_LINES)

    // The unpinned device is taken over and reconnected by B or C.
    const holder = await waitFor(
      async () => {
        const h = await cluster.holder('device', id)
        if (!h) return null
        const d = await cluster.call(h.name, 'GET', `${DEVICES}/${id}`)
        return d.body.status === 'connected' ? h.name : null
      },
      { what: 'the device taken over and connected', timeoutMs: 30_000 },
    )
    expect(['node-b', 'node-c']).toContain(holder)
    const other = holder === 'node-b' ? 'node-c' : 'node-b'

    // Previewed and restarted through the node that does not hold the device.
    const preview = await cluster.call(other, 'GET', `/api/myntrix/jobs/${jobId}/restart-preview`)
    expect(preview.status, JSON.stringify(preview.body)).toBe(200)
    const fromLine = checkpoint.lastAckedLine + 1
    expect(preview.body).toMatchObject({ fromLine, remainingLines: TOTAL_LINES + 1 - fromLine })
    expect(preview.body.preamble.lines).toEqual(expect.arrayContaining(['G21', 'G90']))
    expect(
      (await cluster.call(other, 'POST', `/api/myntrix/jobs/${jobId}/restart`, { confirm: false })).status,
    ).toBe(400)
    const restarted = await cluster.call(other, 'POST', `/api/myntrix/jobs/${jobId}/restart`, {
      confirm: true,
    })
    expect(restarted.status, JSON.stringify(restarted.body)).toBe(202)
    expect(restarted.body.job.restartOf).toBe(jobId)
    const newId = restarted.body.job.id as string

    const done = await waitFor(
      async () => {
        const j = await job(other, newId)
        return j.status === 'completed' || j.status === 'failed' || j.status === 'interrupted' ? j : null
      },
      { what: 'the restarted job finished', timeoutMs: 60_000 },
    )
    expect(done.status, done.error).toBe('completed')
    const preambleLines = (preview.body.preamble.lines as string[]).length
    expect(done.details).toMatchObject({
      deviceId: id,
      restartOf: jobId,
      fromLine,
      linesAcknowledged: preambleLines + TOTAL_LINES + 1 - fromLine,
    })
    // The holder streamed it and still holds the device; the log names the job it restarts.
    expect((await cluster.holder('device', id))?.name).toBe(holder)
    expect(String(done.logs)).toContain(`restart of job ${jobId}`)
  }, 240_000)
})
