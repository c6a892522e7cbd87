// Device files stored in PostgreSQL, across two real server processes (one
// database, the local Redis): a file uploaded through node-a is listed on
// node-b and streamed from node-b to a device node-b connected, and deleting it
// through node-b removes its content for both.

import { describe, expect, it } from 'vitest'
import { rawQuery } from '../../src/db/raw.js'
import { testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'
import { redisReachable } from '../helpers/redis.js'
import { gcode, multipart } from '../modules/device-files/support.js'
import { clusterPerTest } from './support.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres || !hasRedis)
  console.warn('skipping the cluster device-files test: it needs PostgreSQL and Redis')

describe.skipIf(!postgres || !hasRedis)('device files across nodes', () => {
  const clusters = clusterPerTest(postgres, { MYNTRIX_LEASE_TTL_MS: '4000', MYNTRIX_LEASE_RENEW_MS: '1000' })

  it('an upload through node-a is sent by node-b, read from the database', async () => {
    const { c, token } = await clusters.start(['node-a', 'node-b'])
    const id = await c.simPrinter('node-a', token)

    // ~600 KiB: several stored pieces (256 KiB each).
    const { text } = gcode(20_000)
    const { body, headers } = multipart([{ name: 'file', filename: 'part.gcode', content: text }])
    const uploaded = await fetch(`${c.url('node-a')}/api/myntrix/devices/${id}/upload?send=false`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${token}` },
      body,
    })
    expect(uploaded.status).toBe(200)
    const file = ((await uploaded.json()) as { file: { id: string; sha256: string } }).file

    const listed = await c.call('node-b', token, 'GET', `/api/myntrix/devices/${id}/files`)
    expect(listed.body.map((f: { id: string }) => f.id)).toEqual([file.id])
    // No node's data directory holds it: the content is in the database.
    const handle = c.testDb.open()
    try {
      const [pieces] = await rawQuery<{ n: string }>(
        handle.db,
        'postgres',
        `select count(*) as n from device_file_chunks k join device_file_contents f on f.id = k.content_id
         where f.sha256 = ?`,
        [file.sha256],
      )
      expect(Number(pieces?.n)).toBeGreaterThan(1)

      expect((await c.call('node-b', token, 'POST', `/api/myntrix/devices/${id}/connect`)).status).toBe(200)
      const sent = await c.call('node-b', token, 'POST', `/api/myntrix/devices/${id}/files/${file.id}/send`)
      expect(sent.status).toBe(202)
      const job = await waitFor(
        async () => {
          const j = await c.call('node-b', token, 'GET', `/api/myntrix/jobs/${sent.body.job.id}`)
          return ['completed', 'failed', 'cancelled', 'interrupted'].includes(j.body.status) ? j.body : null
        },
        { what: 'the transfer through node-b to finish', timeoutMs: 120_000, intervalMs: 250 },
      )
      expect(job).toMatchObject({
        status: 'completed',
        progress: 100,
        details: { fileId: file.id, linesAcknowledged: 20_000, totalLines: 20_000 },
      })

      const deleted = await fetch(`${c.url('node-b')}/api/myntrix/devices/${id}/files/${file.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      })
      expect(deleted.status).toBe(200)
      const left = await rawQuery(handle.db, 'postgres', 'select id from device_file_contents', [])
      expect(left).toEqual([])
    } finally {
      await handle.close()
    }
  }, 240_000)
})
