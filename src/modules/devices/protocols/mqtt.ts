// The far end of an MQTT link speaks messages on topics under a prefix; the
// mqtt transport frames each as `<topic-suffix> <payload>`. Commands go out as
// `{"id","command"}` on `<prefix>/command`; the answer on `<prefix>/response`
// carries the same id. `<prefix>/status` (a device's last-will) says whether
// the device is online.

import { randomUUID } from 'node:crypto'
import type { ResolvedConfiguration } from '../configuration.js'
import { parseJsonObject, toReadings } from './jsonl.js'
import type { Protocol, ProtocolEvent } from './types.js'

const ONLINE = new Set(['online', 'connected', 'up', '1', 'true'])
const OFFLINE = new Set(['offline', 'disconnected', 'down', 'lost', '0', 'false'])

function answerLines(value: unknown): string[] {
  if (value === undefined || value === null) return []
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))
  return [typeof value === 'string' ? value : JSON.stringify(value)]
}

export class MqttProtocol implements Protocol {
  readonly name = 'mqtt'
  private pendingId: string | null = null

  encode(command: string): string {
    this.pendingId = randomUUID()
    return `${JSON.stringify({ id: this.pendingId, command })}\n`
  }

  onLine(line: string, pending: string | null): ProtocolEvent[] {
    const space = line.indexOf(' ')
    const topic = space < 0 ? line : line.slice(0, space)
    const payload = space < 0 ? '' : line.slice(space + 1).trim()
    if (topic === 'telemetry') {
      const object = parseJsonObject(payload)
      return object ? [{ kind: 'telemetry', readings: toReadings(object), report: true }] : []
    }
    if (topic === 'status') {
      const object = parseJsonObject(payload)
      const raw = object ? (object.status ?? object.state ?? object.online) : payload
      const value = String(raw).toLowerCase()
      if (ONLINE.has(value)) return [{ kind: 'presence', online: true }]
      if (OFFLINE.has(value)) return [{ kind: 'presence', online: false }]
      return []
    }
    if (topic === 'response' && pending !== null) {
      const object = parseJsonObject(payload)
      if (!object) return [{ kind: 'ok', response: [payload] }]
      // An answer to an earlier (timed-out) command is only logged.
      if (object.id !== undefined && object.id !== this.pendingId) return []
      const response = answerLines(object.response ?? object.result)
      if (object.ok === false || (object.error !== undefined && object.error !== null)) {
        const error = object.error
        return [
          {
            kind: 'fail',
            message: typeof error === 'string' ? error : 'the device answered ok: false',
            response,
          },
        ]
      }
      return [{ kind: 'ok', response }]
    }
    return []
  }
}

export const mqtt = (_config: ResolvedConfiguration): Protocol => new MqttProtocol()
