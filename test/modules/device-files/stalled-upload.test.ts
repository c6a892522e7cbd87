// An upload that stops sending (its closing boundary never comes) is ended
// after MYNTRIX_UPLOAD_IDLE_TIMEOUT_MS with a 408 problem, and its partial file
// is removed; nothing is recorded. Real sockets: app.inject has no idle timer.

import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { waitFor } from '../../helpers/processes.js'
import { storedFiles } from './support.js'

const BOUNDARY = '----stall'

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** Sends the request head and `sent` of the body, then nothing more; resolves with the answer. */
function stallingUpload(port: number, path: string, token: string, sent: string, onSent: () => void) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': String(1_000_000),
      },
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => {
        req.destroy()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
      })
    })
    req.on('error', reject)
    req.flushHeaders()
    if (sent) req.write(sent, () => onSent())
    else onSent()
  })
}

describe.each(testEngines())('a stalled upload on $name', (engine) => {
  let t: TestApp
  let port: number
  let deviceId: string
  beforeAll(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_UPLOAD_IDLE_TIMEOUT_MS: '400' } })
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

  it('ends an upload whose file part never ends with 408 and removes the partial file', async () => {
    const head =
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="part.gcode"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n'
    let partSeen = false
    const answer = await stallingUpload(
      port,
      `/api/myntrix/devices/${deviceId}/upload?send=false`,
      t.operator.token,
      head + 'G1 X1\n'.repeat(2000),
      () => {
        // The partial file exists while the upload is in flight.
        void waitFor(async () => (await storedFiles(t)).length > 0, {
          what: 'the partial file',
          timeoutMs: 5000,
        })
          .then(() => {
            partSeen = true
          })
          .catch(() => {})
      },
    )
    expect(answer.status).toBe(408)
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
    const problem = JSON.parse(answer.body)
    expect(problem).toMatchObject({ status: 408, type: expect.stringContaining('request-timeout') })
    expect(problem.detail).toContain('MYNTRIX_UPLOAD_IDLE_TIMEOUT_MS')
    expect(partSeen).toBe(true)
    await waitFor(async () => (await storedFiles(t)).length === 0, {
      what: 'the partial file to be removed',
      timeoutMs: 5000,
    })
    const files = await t.request('GET', `/api/myntrix/devices/${deviceId}/files`, { as: t.operator })
    expect(files.body).toEqual([])
  })

  it('ends an upload that sends its headers and no part with 408', async () => {
    const answer = await stallingUpload(
      port,
      `/api/myntrix/devices/${deviceId}/upload?send=false`,
      t.operator.token,
      '',
      () => {},
    )
    expect(answer.status).toBe(408)
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(await storedFiles(t)).toEqual([])
    expect((await t.request('GET', '/healthz')).status).toBe(200)
  })
})
