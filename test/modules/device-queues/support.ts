// Shared by the queue tests: sim printers, a stored file, the queue area, and
// a record of which job ran on which device when (from the bus, not polling).

import type { JobEventPayload } from '../../../src/events/bus.js'
import type { DeviceQueuesArea } from '../../../src/modules/device-queues/index.js'
import type { TestApp, TestUser } from '../../helpers/app.js'
import { gcode, upload } from '../device-files/support.js'

export async function simPrinter(t: TestApp, name: string, as: TestUser = t.operator): Promise<string> {
  const created = await t.request('POST', '/api/myntrix/devices', {
    as,
    body: { name, connectionString: 'sim://marlin', configuration: { temperatureReport: 'off' } },
  })
  if (created.status !== 201) throw new Error(`device not created: ${created.status} ${created.text}`)
  const id = created.body.id as string
  const connected = await t.request('POST', `/api/myntrix/devices/${id}/connect`, { as })
  if (connected.status !== 200) throw new Error(`not connected: ${connected.status} ${connected.text}`)
  return id
}

/**
 * Stores a G-code file of `lines` moves on the device without sending it; answers its id.
 * `content`: the file's text instead (a slow file of dwells, say).
 */
export async function storedFile(
  t: TestApp,
  deviceId: string,
  lines = 40,
  as: TestUser = t.operator,
  content = gcode(lines).text,
) {
  const res = await upload(t, deviceId, 'part.gcode', content, { as, query: '?send=false' })
  if (res.status !== 200) throw new Error(`upload failed: ${res.status} ${res.text}`)
  return res.body.file.id as string
}

export const queuesOf = (t: TestApp) =>
  t.app.myntrix.areas.find((a) => a.name === 'device-queues') as DeviceQueuesArea

/**
 * Every transfer's running span per device, from job.updated: `overlaps`
 * counts a job starting on a device while another job runs there.
 */
export function runLedger(t: TestApp) {
  const running = new Map<string, Set<string>>()
  const ranOn = new Map<string, string>()
  const ended = new Map<string, string>()
  let overlaps = 0
  const waiters: { match: () => boolean; resolve: () => void }[] = []
  const off = t.app.myntrix.context.bus.on('job.updated', ({ job }: { job: JobEventPayload }) => {
    const deviceId = job.details?.deviceId as string | undefined
    if (job.type !== 'device-transfer' || !deviceId) return
    const set = running.get(deviceId) ?? new Set<string>()
    running.set(deviceId, set)
    if (job.status === 'running' && !set.has(job.id)) {
      if (set.size > 0) overlaps++
      set.add(job.id)
      ranOn.set(job.id, deviceId)
    } else if (!['pending', 'running'].includes(job.status)) {
      set.delete(job.id)
      ended.set(job.id, job.status)
    }
    for (const w of waiters.splice(0)) {
      if (w.match()) w.resolve()
      else waiters.push(w)
    }
  })
  return {
    ranOn,
    ended,
    get overlaps() {
      return overlaps
    },
    /** Resolves once `match` holds (checked at each job change). */
    until(match: () => boolean, timeoutMs = 20_000): Promise<void> {
      if (match()) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('the ledger did not reach the state in time')),
          timeoutMs,
        )
        waiters.push({
          match,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
      })
    },
    stop: off,
  }
}
