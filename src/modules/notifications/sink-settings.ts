// The rules of a sink the schema cannot say (which fields each type takes, what
// a URL may look like, what an MQTT topic may be), as field errors, and the
// stored settings made from a checked input.

import type { FieldError } from '../../errors.js'
import { portOf } from '../../net/pinned-request.js'
import type { SinkSettings } from './rule-record.js'
import type { SinkInput } from './schemas.js'

export const MQTT_DEFAULT_PORT = 1883

const MQTT_ONLY = ['topic', 'username', 'password', 'retain'] as const

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text)
  } catch {
    return undefined
  }
}

/** Everything wrong with `input`, paths under `prefix` (`sink.url`). */
export function sinkErrors(input: SinkInput, prefix = 'sink'): FieldError[] {
  const errors: FieldError[] = []
  const add = (field: string, message: string) => errors.push({ path: `${prefix}.${field}`, message })
  const url = parseUrl(input.url)
  if (input.type === 'webhook') {
    for (const field of MQTT_ONLY) if (input[field] !== undefined) add(field, 'is for mqtt sinks only')
    if (!url) add('url', 'must be an absolute http(s) URL')
    else if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      add('url', `must use http or https, got ${url.protocol.replace(':', '')}`)
    }
  } else {
    if (!url) add('url', 'must be mqtt://host[:port]')
    else {
      if (url.protocol !== 'mqtt:') add('url', `must use mqtt, got ${url.protocol.replace(':', '')}`)
      if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) {
        add('url', 'must be mqtt://host[:port], without a path or query (the topic is its own field)')
      }
    }
    if (input.topic === undefined) add('topic', 'is required for an mqtt sink')
    else if (/[+#\0]/.test(input.topic)) add('topic', 'must not contain the wildcards + or #, or NUL')
    else if (input.topic.startsWith('$')) add('topic', 'must not start with $ (reserved by brokers)')
  }
  if (url && (url.username || url.password)) {
    add('url', 'must not carry credentials; mqtt sinks take username and password as their own fields')
  }
  if (url && url.hostname === '') add('url', 'must name a host')
  return errors
}

/** Host and port the sink connects to, for the outbound policy. */
export function sinkDestination(sink: { type: SinkSettings['type']; url: string }): {
  host: string
  port: number
} {
  const url = new URL(sink.url)
  if (sink.type === 'webhook') return { host: url.hostname, port: portOf(url) }
  return { host: url.hostname, port: url.port ? Number(url.port) : MQTT_DEFAULT_PORT }
}

/** The settings stored for a checked input (the password is kept apart, as the rule's secret). */
export function sinkSettingsOf(input: SinkInput): SinkSettings {
  if (input.type === 'webhook') return { type: 'webhook', url: input.url }
  return {
    type: 'mqtt',
    url: input.url,
    topic: input.topic ?? '',
    username: input.username ?? null,
    retain: input.retain ?? false,
  }
}
