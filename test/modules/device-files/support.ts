// Shared by the device-files API tests: multipart bodies, and waiting on a
// job through the bus rather than by polling.

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { rawQuery } from '../../../src/db/raw.js'
import type { JobEventPayload } from '../../../src/events/bus.js'
import type { TestApp, TestUser } from '../../helpers/app.js'

export function multipart(
  fields: { name: string; filename?: string; content: string | Buffer; type?: string }[],
): { body: Buffer; headers: Record<string, string> } {
  const boundary = `----myntrix${randomBytes(8).toString('hex')}`
  const parts: Buffer[] = []
  for (const f of fields) {
    const disposition =
      f.filename !== undefined
        ? `form-data; name="${f.name}"; filename="${f.filename}"`
        : `form-data; name="${f.name}"`
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\nContent-Type: ${f.type ?? 'application/octet-stream'}\r\n\r\n`,
      ),
      typeof f.content === 'string' ? Buffer.from(f.content) : f.content,
      Buffer.from('\r\n'),
    )
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return {
    body: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  }
}

export async function upload(
  t: TestApp,
  deviceId: string,
  filename: string,
  content: string | Buffer,
  options: { as?: TestUser; query?: string } = {},
) {
  const { body, headers } = multipart([{ name: 'file', filename, content }])
  return t.request('POST', `/api/myntrix/devices/${deviceId}/upload${options.query ?? ''}`, {
    as: options.as ?? t.operator,
    body,
    headers,
  })
}

/** A device on the pty link `<dir>/device`, created by the operator and connected. */
export async function serialDevice(
  t: TestApp,
  dir: string,
  firmware: 'marlin' | 'grbl',
  name = 'usb printer',
  configuration: Record<string, unknown> = {},
): Promise<string> {
  const created = await t.request('POST', '/api/myntrix/devices', {
    as: t.operator,
    body: {
      name,
      connectionString: `serial://${dir}/device?baudRate=115200`,
      configuration: {
        protocol: firmware,
        temperatureReport: 'off',
        statusPollMs: 0,
        autoReconnect: false,
        ...configuration,
      },
    },
  })
  if (created.status !== 201) throw new Error(`device not created: ${created.status} ${created.text}`)
  const id = created.body.id as string
  const connected = await t.request('POST', `/api/myntrix/devices/${id}/connect`, { as: t.operator })
  if (connected.status !== 200) throw new Error(`device not connected: ${connected.status} ${connected.text}`)
  return id
}

const FINISHED = ['completed', 'failed', 'cancelled', 'interrupted']

/** Resolves with the first job.updated (or the current state) for which `match` holds. */
export async function jobWhere(
  t: TestApp,
  jobId: string,
  match: (job: JobEventPayload) => boolean,
  timeoutMs = 20_000,
): Promise<JobEventPayload> {
  const bus = t.app.myntrix.context.bus
  return new Promise((resolve, reject) => {
    let done = false
    const finish = (job: JobEventPayload | null, err?: Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      off()
      if (err) reject(err)
      else resolve(job!)
    }
    const off = bus.on('job.updated', ({ job }) => {
      if (job.id === jobId && match(job)) finish(job)
    })
    const timer = setTimeout(
      () => finish(null, new Error(`job ${jobId} did not reach the state within ${timeoutMs} ms`)),
      timeoutMs,
    )
    t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.admin }).then((res) => {
      if (res.status === 200 && match(res.body)) finish(res.body)
    })
  })
}

export const jobFinished = (t: TestApp, jobId: string, timeoutMs?: number) =>
  jobWhere(t, jobId, (j) => FINISHED.includes(j.status), timeoutMs)

/**
 * Everything the area's storage holds, partial uploads included: on SQLite the
 * regular files under its data directory (paths), on PostgreSQL the content
 * rows (`pg:<sha256>`, or `pg-partial:<id>` while an upload streams in).
 */
export async function storedFiles(t: TestApp): Promise<string[]> {
  if (t.config.databaseUrl.startsWith('postgres')) {
    const rows = await rawQuery<{ id: string; sha256: string | null }>(
      t.app.myntrix.context.db,
      'postgres',
      'select id, sha256 from device_file_contents order by created_at',
      [],
    )
    return rows.map((r) => (r.sha256 ? `pg:${r.sha256}` : `pg-partial:${r.id}`))
  }
  const root = path.join(t.config.dataDir, 'device-files')
  if (!fs.existsSync(root)) return []
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
}

export function gcode(lines: number, prefix = 'G1'): { text: string; moves: string[] } {
  const moves: string[] = []
  let text = '; test file\n'
  for (let i = 1; i <= lines; i++) {
    const move = `${prefix} X${i % 100} Y${i} F3000`
    moves.push(move)
    text += `${move}\n`
  }
  return { text, moves }
}
