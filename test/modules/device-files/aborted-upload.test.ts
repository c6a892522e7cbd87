// A client that goes away in the middle of an upload leaves nothing behind:
// no partial file on disk, no row, and the server keeps serving.

import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { storedFiles } from './support.js'

describe.each(testEngines())('an interrupted upload on $name', (engine) => {
  let t: TestApp
  let port: number
  let deviceId: string
  beforeAll(async () => {
    t = await createTestApp(engine)
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = Number(new URL(address).port)
    const device = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: { name: 'p', type: 'printer', connectionString: 'sim://marlin' },
    })
    deviceId = device.body.id
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('removes the partial file and records nothing', async () => {
    const boundary = '----cutoff'
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="part.gcode"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n'
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write(
      `POST /api/myntrix/devices/${deviceId}/upload?send=false HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${t.operator.token}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 1000000\r\n\r\n`,
    )
    socket.write(head + 'G1 X1\n'.repeat(2000))
    // Let the server start writing the file, then vanish mid-body.
    await waitFor(async () => (await storedFiles(t)).length > 0, {
      what: 'the upload to reach the disk',
      timeoutMs: 5000,
    }).catch(() => {})
    socket.destroy()
    await waitFor(async () => (await storedFiles(t)).length === 0, {
      what: 'the partial file to be removed',
      timeoutMs: 5000,
    })
    const files = await t.request('GET', `/api/myntrix/devices/${deviceId}/files`, { as: t.operator })
    expect(files.body).toEqual([])
    expect((await t.request('GET', '/healthz')).status).toBe(200)
  })
})
