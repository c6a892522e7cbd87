// The `device` action with a stored file: a task streams a file to a device
// through the device files area, and its run follows the transfer job.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { upload } from '../device-files/support.js'
import { runTaskToEnd } from './helpers.js'

const API = '/api/myntrix/tasks'

describe.each(testEngines())('device action with a stored file on $name', (engine) => {
  let t: TestApp
  let deviceId: string
  beforeAll(async () => {
    t = await createTestApp(engine)
    const device = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: { name: 'sim printer', type: 'printer', connectionString: 'sim://marlin' },
    })
    deviceId = device.body.id
    expect(
      (await t.request('POST', `/api/myntrix/devices/${deviceId}/connect`, { as: t.operator })).status,
    ).toBe(200)
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('streams the file, and the run succeeds once the transfer completes', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `G1 X${i} Y${i} ; move ${i}`).join('\n')
    const stored = await upload(t, deviceId, 'square.gcode', `${lines}\n`, { query: '?send=false' })
    // Stored only (no transfer job): 200.
    expect(stored.status).toBe(200)
    const fileId = stored.body.file.id

    const task = await t.request('POST', API, {
      as: t.operator,
      body: { name: 'print square', schedule: '0 0 1 1 *', action: 'device', payload: { deviceId, fileId } },
    })
    expect(task.status).toBe(201)
    const done = await runTaskToEnd(t, task.body.id, t.operator)
    expect(done.status).toBe('success')
    expect(done.logs).toContain(`sending file ${fileId}`)
    expect(done.logs).toContain('file sent (50 lines)')

    const transfers = (
      await t.request('GET', '/api/myntrix/jobs?type=device-transfer&limit=10', { as: t.operator })
    ).body
    expect(transfers.some((j: any) => j.status === 'completed' && j.details?.fileId === fileId)).toBe(true)
  })

  it('fails the run with the reason when the file does not exist', async () => {
    const task = await t.request('POST', API, {
      as: t.operator,
      body: {
        name: 'missing file',
        schedule: '0 0 1 1 *',
        action: 'device',
        payload: { deviceId, fileId: '00000000-0000-7000-8000-000000000000' },
      },
    })
    const done = await runTaskToEnd(t, task.body.id, t.operator)
    expect(done.status).toBe('failed')
    expect(done.logs).toMatch(/not found/)
  })
})
