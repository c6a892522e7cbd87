// The restart routes' refusals through the real app, on every engine, with a
// sim:// printer: each bad request gets its own 4xx, and nothing is started.
// The pty suite (restart.serial.test.ts) covers what a restart sends.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { initialModalState } from '../../../src/modules/firmware/modal-state.js'
import type { JobsArea } from '../../../src/modules/jobs/index.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { gcode, jobFinished, upload } from './support.js'

describe.each(testEngines())('restart routes on $name', (engine) => {
  let t: TestApp
  let deviceId: string
  let fileId: string

  beforeEach(async () => {
    t = await createTestApp(engine)
    const created = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: {
        name: 'printer',
        connectionString: 'sim://marlin',
        configuration: { temperatureReport: 'off' },
      },
    })
    deviceId = created.body.id
    expect(
      (await t.request('POST', `/api/myntrix/devices/${deviceId}/connect`, { as: t.operator })).status,
    ).toBe(200)
    const stored = await upload(t, deviceId, 'part.gcode', gcode(30).text, { query: '?send=false' })
    expect(stored.status).toBe(200)
    fileId = stored.body.file.id
  })
  afterEach(async () => {
    await t.dispose()
  })

  const jobs = () => (t.app.myntrix.areas.find((a) => a.name === 'jobs') as JobsArea).service

  /** A transfer job of the stored file, ended interrupted at line 10 (or with no checkpoint). */
  async function interrupted(options: { checkpoint?: boolean; type?: string; fileId?: string } = {}) {
    const job = await jobs().create({
      name: 'send part.gcode',
      type: options.type ?? 'device-transfer',
      ownerId: t.operator.id,
      running: true,
      details: { deviceId, fileId: options.fileId ?? fileId },
    })
    const checkpoint = { lastAckedLine: 10, fileOffset: 0, modalState: initialModalState() }
    await jobs().interrupt(
      job.id,
      'the device disconnected',
      undefined,
      options.checkpoint === false ? undefined : checkpoint,
    )
    return job.id
  }

  const restart = (jobId: string, body: unknown) =>
    t.request('POST', `/api/myntrix/jobs/${jobId}/restart`, { as: t.operator, body })

  it('previews from the checkpoint and restarts as a new linked job that completes', async () => {
    const jobId = await interrupted()
    const preview = await t.request('GET', `/api/myntrix/jobs/${jobId}/restart-preview`, { as: t.operator })
    expect(preview.status).toBe(200)
    expect(preview.body).toMatchObject({ fromLine: 11, remainingLines: 21, machine: 'printer' })
    const res = await restart(jobId, { confirm: true })
    expect(res.status).toBe(202)
    expect(res.body.job.restartOf).toBe(jobId)
    const done = await jobFinished(t, res.body.job.id)
    expect(done.status).toBe('completed')
    expect((await jobs().get(jobId))?.status).toBe('interrupted')
  })

  it('refuses bad input with 400 and its field errors, and starts nothing', async () => {
    const jobId = await interrupted()
    for (const body of [
      {},
      { confirm: false },
      { confirm: true, fromLine: 0 },
      { confirm: true, fromLine: 1.5 },
    ]) {
      const res = await restart(jobId, body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.errors.length).toBeGreaterThan(0)
    }
    for (const q of ['fromLine=0', 'fromLine=abc', 'fromLine=32']) {
      const res = await t.request('GET', `/api/myntrix/jobs/${jobId}/restart-preview?${q}`, {
        as: t.operator,
      })
      expect(res.status, q).toBe(400)
    }
    expect(
      (await t.request('GET', '/api/myntrix/jobs?status=running,pending', { as: t.operator })).body,
    ).toEqual([])
  })

  it('refuses what cannot restart: 422 another job type, 409 an active job or no checkpoint, 404 a deleted file', async () => {
    expect((await restart(await interrupted({ type: 'task.run' }), { confirm: true })).status).toBe(422)
    const running = await jobs().create({
      name: 'running',
      type: 'device-transfer',
      ownerId: t.operator.id,
      running: true,
      details: { deviceId, fileId },
    })
    expect((await restart(running.id, { confirm: true })).status).toBe(409)
    await jobs().complete(running.id)
    const bare = await interrupted({ checkpoint: false })
    const noCheckpoint = await restart(bare, { confirm: true })
    expect(noCheckpoint.status).toBe(409)
    expect(noCheckpoint.body.detail).toMatch(/no checkpoint; give fromLine/)
    expect((await restart(bare, { confirm: true, fromLine: 5 })).status).toBe(202)
    expect((await restart(await interrupted({ fileId: 'gone' }), { confirm: true })).status).toBe(404)
  })
})
