// The device-files API through the real app, on every engine, with sim://
// devices (the same connection and protocol code as a serial port). The pty
// suite (transfers.serial.test.ts) covers the real serial path.

import fs from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { gcode, jobFinished, jobWhere, multipart, storedFiles, upload } from './support.js'

describe.each(testEngines())('device files API on $name', (engine) => {
  let t: TestApp

  beforeEach(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_UPLOAD_MAX_MB: '1' } })
  })
  afterEach(async () => {
    await t.dispose()
  })

  async function device(as: TestUser, connectionString = 'sim://marlin', connect = true) {
    const created = await t.request('POST', '/api/myntrix/devices', {
      as,
      body: { name: 'printer', connectionString, configuration: { temperatureReport: 'off' } },
    })
    expect(created.status).toBe(201)
    const id = created.body.id as string
    if (connect)
      expect((await t.request('POST', `/api/myntrix/devices/${id}/connect`, { as })).status).toBe(200)
    return id
  }

  it('uploads, answers 202 with the file and job, and the job completes with progress 100', async () => {
    const id = await device(t.operator)
    const { text } = gcode(200)
    const res = await upload(t, id, 'part.gcode', text)
    expect(res.status).toBe(202)
    expect(res.body).toMatchObject({
      message: expect.any(String),
      file: {
        id: expect.any(String),
        name: 'part.gcode',
        size: Buffer.byteLength(text),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
      job: { id: expect.any(String), type: 'device-transfer', status: 'running' },
    })
    const job = await jobFinished(t, res.body.job.id)
    expect(job).toMatchObject({
      status: 'completed',
      progress: 100,
      details: {
        deviceId: id,
        fileId: res.body.file.id,
        linesAcknowledged: 200,
        totalLines: 200,
        protocol: 'marlin',
      },
    })
    const listed = await t.request('GET', '/api/myntrix/jobs?type=device-transfer', { as: t.operator })
    expect(listed.body.map((j: { id: string }) => j.id)).toContain(res.body.job.id)
    const files = await t.request('GET', `/api/myntrix/devices/${id}/files`, { as: t.operator })
    expect(files.status).toBe(200)
    expect(files.headers['x-total-count']).toBe('1')
    expect(files.body[0]).toMatchObject({
      id: res.body.file.id,
      name: 'part.gcode',
      kind: 'gcode',
      lineCount: 200,
    })
  })

  it('stores the same content once', async () => {
    const id = await device(t.operator)
    const first = await upload(t, id, 'a.gcode', 'G28\nG1 X1\n', { query: '?send=false' })
    const second = await upload(t, id, 'b.gcode', 'G28\nG1 X1\n', { query: '?send=false' })
    expect(first.status).toBe(200)
    expect(first.body.job).toBeNull()
    expect(second.body.file.id).toBe(first.body.file.id)
    expect(second.body.file.name).toBe('b.gcode')
    expect(await storedFiles(t)).toHaveLength(1)
    // Another device, same content: its own row, still one blob.
    const other = await device(t.operator, 'sim://grbl')
    expect((await upload(t, other, 'c.nc', 'G28\nG1 X1\n', { query: '?send=false' })).status).toBe(200)
    expect(await storedFiles(t)).toHaveLength(1)
  })

  it('answers 413 over the limit and leaves nothing on disk', async () => {
    const id = await device(t.operator)
    const big = Buffer.alloc(1024 * 1024 + 10, 'G1 X1\n')
    const res = await upload(t, id, 'big.gcode', big)
    expect(res.status).toBe(413)
    expect(res.headers['content-type']).toMatch(/problem\+json/)
    expect(res.body.detail).toMatch(/1 MB/)
    expect(await storedFiles(t)).toEqual([])
    expect((await t.request('GET', `/api/myntrix/devices/${id}/files`, { as: t.operator })).body).toEqual([])
  })

  it('answers 400 for a disallowed extension and leaves nothing on disk', async () => {
    const id = await device(t.operator)
    const res = await upload(t, id, 'firmware.bin', Buffer.from([1, 2, 3]))
    expect(res.status).toBe(400)
    expect(res.body.errors).toEqual([{ path: 'file', message: expect.stringContaining('.gcode') }])
    expect((await upload(t, id, 'noext', 'G28\n')).status).toBe(400)
    expect(await storedFiles(t)).toEqual([])
  })

  it('stores a traversal filename safely under its base name', async () => {
    const id = await device(t.operator)
    const res = await upload(t, id, '../../etc/passwd.gcode', 'G28\n', { query: '?send=false' })
    expect(res.status).toBe(200)
    expect(res.body.file.name).toBe('passwd.gcode')
    const [stored] = await storedFiles(t)
    // On PostgreSQL the content is a row (no path at all); on SQLite a file inside the data dir.
    if (engine.name === 'sqlite') expect(stored?.startsWith(t.config.dataDir)).toBe(true)
    expect(stored?.endsWith(res.body.file.sha256)).toBe(true)
  })

  it('rejects a body that is not multipart, a missing file and a wrong field', async () => {
    const id = await device(t.operator)
    const json = await t.request('POST', `/api/myntrix/devices/${id}/upload`, {
      as: t.operator,
      body: { file: 'x' },
    })
    expect(json.status).toBe(415)
    const noFile = multipart([{ name: 'note', content: 'hello' }])
    const missing = await t.request('POST', `/api/myntrix/devices/${id}/upload`, {
      as: t.operator,
      body: noFile.body,
      headers: noFile.headers,
    })
    expect(missing.status).toBe(400)
    const wrong = multipart([{ name: 'upload', filename: 'a.gcode', content: 'G28\n' }])
    const wrongField = await t.request('POST', `/api/myntrix/devices/${id}/upload`, {
      as: t.operator,
      body: wrong.body,
      headers: wrong.headers,
    })
    expect(wrongField.status).toBe(400)
    expect(wrongField.body.errors[0].path).toBe('file')
    expect(await storedFiles(t)).toEqual([])
  })

  it("hides another owner's device (404) and refuses viewers (403)", async () => {
    const id = await device(t.operator)
    expect((await upload(t, id, 'a.gcode', 'G28\n', { as: t.operator2 })).status).toBe(404)
    expect((await upload(t, id, 'a.gcode', 'G28\n', { as: t.viewer })).status).toBe(403)
    expect((await t.request('GET', `/api/myntrix/devices/${id}/files`, { as: t.operator2 })).status).toBe(404)
    expect((await upload(t, 'no-such-device', 'a.gcode', 'G28\n')).status).toBe(404)
    expect(await storedFiles(t)).toEqual([])
  })

  it('answers 409 when the device is not connected, storing nothing', async () => {
    const id = await device(t.operator, 'sim://marlin', false)
    const res = await upload(t, id, 'a.gcode', 'G28\n')
    expect(res.status).toBe(409)
    expect(await storedFiles(t)).toEqual([])
  })

  it('allows one transfer per device (409), then cancel stops it', async () => {
    const id = await device(t.operator)
    // Dwells keep the transfer busy long enough to try a second one.
    const slow = `${'G4 P100\n'.repeat(50)}`
    const first = await upload(t, id, 'slow.gcode', slow)
    expect(first.status).toBe(202)
    const second = await upload(t, id, 'other.gcode', 'G28\n')
    expect(second.status).toBe(409)
    expect(second.body.detail).toMatch(/one transfer per device/)
    // The refused file was not stored either.
    expect(await storedFiles(t)).toHaveLength(1)
    const cancel = await t.request('POST', `/api/myntrix/jobs/${first.body.job.id}/cancel`, {
      as: t.operator,
    })
    expect(cancel.status).toBe(200)
    const job = await jobFinished(t, first.body.job.id)
    expect(job.status).toBe('cancelled')
    expect((job.details as { linesAcknowledged: number }).linesAcknowledged).toBeLessThan(50)
    // The device is free again.
    const again = await t.request('POST', `/api/myntrix/devices/${id}/files/${first.body.file.id}/send`, {
      as: t.operator,
    })
    expect(again.status).toBe(202)
    await t.request('POST', `/api/myntrix/jobs/${again.body.job.id}/cancel`, { as: t.operator })
    await jobFinished(t, again.body.job.id)
  })

  it('pauses and resumes a transfer; commands go through while paused', async () => {
    const id = await device(t.operator)
    const slow = `${'G4 P20\n'.repeat(60)}`
    const res = await upload(t, id, 'slow.gcode', slow)
    const jobId = res.body.job.id
    expect((await t.request('POST', `/api/myntrix/jobs/${jobId}/pause`, { as: t.operator })).status).toBe(200)
    const paused = await jobWhere(t, jobId, (j) => (j.details as { paused?: boolean })?.paused === true)
    const at = (paused.details as { linesAcknowledged: number }).linesAcknowledged
    const cmd = await t.request('POST', `/api/myntrix/devices/${id}/command`, {
      as: t.operator,
      body: { command: 'M114' },
    })
    expect(cmd.status).toBe(200)
    const still = await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })
    expect(still.body.details.linesAcknowledged).toBe(at)
    expect(still.body.status).toBe('running')
    expect((await t.request('POST', `/api/myntrix/jobs/${jobId}/resume`, { as: t.operator })).status).toBe(
      200,
    )
    const done = await jobFinished(t, jobId)
    expect(done).toMatchObject({ status: 'completed', details: { linesAcknowledged: 60, paused: false } })
    // Finished jobs cannot be paused; other users do not see the job.
    expect((await t.request('POST', `/api/myntrix/jobs/${jobId}/pause`, { as: t.operator })).status).toBe(409)
    expect((await t.request('POST', `/api/myntrix/jobs/${jobId}/pause`, { as: t.operator2 })).status).toBe(
      404,
    )
    expect((await t.request('POST', `/api/myntrix/jobs/${jobId}/pause`, { as: t.viewer })).status).toBe(403)
  })

  it('sends a stored file again, and deletes it (content removed with the last reference)', async () => {
    const id = await device(t.operator)
    const stored = await upload(t, id, 'a.gcode', 'G28\nG1 X5\n', { query: '?send=false' })
    const fileId = stored.body.file.id
    const sent = await t.request('POST', `/api/myntrix/devices/${id}/files/${fileId}/send`, {
      as: t.operator,
    })
    expect(sent.status).toBe(202)
    expect((await jobFinished(t, sent.body.job.id)).status).toBe('completed')
    expect(
      (await t.request('POST', `/api/myntrix/devices/${id}/files/nope/send`, { as: t.operator })).status,
    ).toBe(404)
    const del = await t.request('DELETE', `/api/myntrix/devices/${id}/files/${fileId}`, { as: t.operator })
    expect(del.status).toBe(200)
    expect(del.body).toEqual({ message: expect.any(String), id: fileId })
    expect(await storedFiles(t)).toEqual([])
    expect(
      (await t.request('DELETE', `/api/myntrix/devices/${id}/files/${fileId}`, { as: t.operator })).status,
    ).toBe(404)
  })

  it('streams to GRBL with character counting and stops on error:N with the line', async () => {
    const id = await device(t.operator, 'sim://grbl')
    const ok = await upload(t, id, 'ok.nc', gcode(300).text)
    expect((await jobFinished(t, ok.body.job.id)).status).toBe('completed')
    const bad = await upload(t, id, 'bad.nc', 'G0 X1\nG0 X2\n; c\nG5 X1\nG0 X3\n')
    const job = await jobFinished(t, bad.body.job.id)
    expect(job.status).toBe('failed')
    const full = await t.request('GET', `/api/myntrix/jobs/${bad.body.job.id}`, { as: t.operator })
    expect(full.body.error).toMatch(/^line 4 "G5 X1" failed: error:20/)
  })

  it('keeps blobs of existing files and removes orphans at start', async () => {
    const id = await device(t.operator)
    const kept = await upload(t, id, 'keep.gcode', 'G28\n', { query: '?send=false' })
    const other = await device(t.operator)
    await upload(t, other, 'orphan.gcode', 'G1 X9\n', { query: '?send=false' })
    expect(await storedFiles(t)).toHaveLength(2)
    // Deleting the device drops its rows (cascade); the next start sweeps the blob.
    expect((await t.request('DELETE', `/api/myntrix/devices/${other}`, { as: t.operator })).status).toBe(200)
    await t.close()
    t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false })
    const left = await storedFiles(t)
    expect(left).toHaveLength(1)
    expect(left[0]?.endsWith(kept.body.file.sha256)).toBe(true)
    if (engine.name === 'sqlite') expect(fs.existsSync(left[0] ?? '')).toBe(true)
  })
})
