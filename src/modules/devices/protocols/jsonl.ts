// `jsonl`: one JSON object per line. An object that answers (it has `ok`,
// `error`, `result`, `response` or `id`) completes the command in flight; any
// other object is a telemetry sample. A line that is not a JSON object (`PONG`)
// also completes the command in flight: a device that answered must not be
// reported silent. Firmware that prints unrelated text between its JSON
// answers sets `jsonAnswersOnly`: its text lines then join the answer's
// response (and the log) but complete nothing.

import type { ResolvedConfiguration } from '../configuration.js'
import type { Protocol, ProtocolEvent, Readings } from './types.js'

const ANSWER_KEYS = ['ok', 'error', 'result', 'response', 'id']

export function parseJsonObject(text: string): Record<string, unknown> | null {
  if (!text.startsWith('{')) return null
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null
  } catch {
    return null
  }
}

/** Top-level scalars become readings; nested values are kept as JSON text. */
export function toReadings(object: Record<string, unknown>): Readings {
  const readings: Readings = {}
  for (const [key, value] of Object.entries(object)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      readings[key] = value as string | number | boolean | null
    } else {
      readings[key] = JSON.stringify(value)
    }
  }
  return readings
}

export class JsonlProtocol implements Protocol {
  readonly name = 'jsonl'
  constructor(private readonly config: ResolvedConfiguration) {}

  encode(command: string): string {
    return `${command}\n`
  }

  onLine(line: string, pending: string | null): ProtocolEvent[] {
    const text = line.trim()
    // A blank line is the tail of a CRLF pair or a keepalive, never an answer.
    if (text === '') return []
    const object = parseJsonObject(text)
    if (object === null) {
      if (pending === null) return []
      return this.config.jsonAnswersOnly ? [{ kind: 'response' }] : [{ kind: 'ok' }]
    }
    if (ANSWER_KEYS.some((k) => k in object)) {
      if (pending === null) return []
      const failed = object.ok === false || (object.error !== undefined && object.error !== null)
      if (failed) {
        const error = object.error
        return [
          { kind: 'fail', message: typeof error === 'string' ? error : 'the device answered ok: false' },
        ]
      }
      return [{ kind: 'ok' }]
    }
    return [{ kind: 'telemetry', readings: toReadings(object), report: true }]
  }
}

export const jsonl = (config: ResolvedConfiguration): Protocol => new JsonlProtocol(config)
