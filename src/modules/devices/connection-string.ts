// Parses a device's connectionString into a transport target. The accepted
// forms are listed once here and quoted in every rejection.

import { ValidationError } from '../../errors.js'

export const ACCEPTED_CONNECTION_FORMS = [
  'serial:///dev/ttyUSB0?baudRate=115200',
  '/dev/ttyUSB0 or another absolute device path (baud from configuration.baudRate, default 115200)',
  'tcp://host:port',
  'mqtt://host:port/<topic-prefix>',
  'sim://marlin',
  'sim://grbl',
] as const

export const DEFAULT_BAUD_RATE = 115200
export const SIM_FIRMWARES = ['marlin', 'grbl'] as const
export type SimFirmware = (typeof SIM_FIRMWARES)[number]

export type ConnectionTarget =
  | { scheme: 'serial'; path: string; baudRate: number }
  | { scheme: 'tcp'; host: string; port: number }
  | { scheme: 'mqtt'; host: string; port: number; topicPrefix: string }
  | { scheme: 'sim'; firmware: SimFirmware }

export type Scheme = ConnectionTarget['scheme']

export const MIN_BAUD = 50
export const MAX_BAUD = 4_000_000

export function isValidBaudRate(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= MIN_BAUD && value <= MAX_BAUD
}

function reject(value: string, why: string): never {
  const accepted = ACCEPTED_CONNECTION_FORMS.join(', ')
  throw new ValidationError(`connectionString ${JSON.stringify(value)} ${why}; accepted forms: ${accepted}`, [
    { path: 'connectionString', message: `${why}; accepted forms: ${accepted}` },
  ])
}

function parsePort(raw: string, value: string, fallback?: number): number {
  if (raw === '') {
    if (fallback !== undefined) return fallback
    reject(value, 'needs a port')
  }
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 1 || port > 65535) reject(value, `has port ${raw}, expected 1-65535`)
  return port
}

/**
 * `configuration.baudRate` is the fallback for serial targets; a `baudRate`
 * query parameter in the string wins over it.
 */
export function parseConnectionString(
  value: unknown,
  configuration?: { baudRate?: unknown },
): ConnectionTarget {
  if (typeof value !== 'string' || value.trim() === '') {
    reject(String(value), 'must be a non-empty string')
  }
  const text = value.trim()
  const configBaud = configuration?.baudRate
  const fallbackBaud = isValidBaudRate(configBaud) ? configBaud : DEFAULT_BAUD_RATE

  // A bare absolute path is a serial device (/dev/ttyUSB0, a socat link, /dev/serial/by-id/...).
  if (text.startsWith('/')) {
    if (/\s/.test(text)) reject(text, 'contains whitespace')
    return { scheme: 'serial', path: text, baudRate: fallbackBaud }
  }

  const [, schemePart, rest] = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(text) ?? []
  if (schemePart === undefined || rest === undefined) reject(text, 'is not a device path or URL')
  const scheme = schemePart.toLowerCase()

  if (scheme === 'serial') {
    const [pathPart = '', query = ''] = rest.split('?', 2)
    const path = decodeURIComponent(pathPart)
    if (!path.startsWith('/') || path.length < 2)
      reject(text, 'needs an absolute device path after serial://')
    let baudRate = fallbackBaud
    for (const [key, raw] of new URLSearchParams(query)) {
      if (key !== 'baudRate') reject(text, `has unknown parameter ${key}, only baudRate is accepted`)
      const baud = Number(raw)
      if (!isValidBaudRate(baud))
        reject(text, `has baudRate ${raw}, expected an integer ${MIN_BAUD}-${MAX_BAUD}`)
      baudRate = baud
    }
    return { scheme: 'serial', path, baudRate }
  }

  if (scheme === 'tcp' || scheme === 'mqtt') {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      reject(text, 'is not a valid URL')
    }
    if (url.hostname === '') reject(text, 'needs a host')
    if (/[?#]/.test(rest))
      reject(text, scheme === 'mqtt' ? 'has a query or a wildcard (#)' : 'must not have a query or fragment')
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    if (scheme === 'tcp') {
      if (url.pathname !== '' && url.pathname !== '/') reject(text, 'must not have a path (tcp://host:port)')
      if (url.username || url.password) reject(text, 'must not carry credentials')
      return { scheme: 'tcp', host, port: parsePort(url.port, text) }
    }
    if (url.username || url.password) reject(text, 'must not carry credentials (put them in configuration)')
    const topicPrefix = decodeURIComponent(url.pathname.replace(/^\/+/, '').replace(/\/+$/, ''))
    if (topicPrefix === '') reject(text, 'needs a topic prefix (mqtt://host:port/<topic-prefix>)')
    if (/[+#]/.test(topicPrefix)) reject(text, 'has a topic prefix with a wildcard (+ or #)')
    return { scheme: 'mqtt', host, port: parsePort(url.port, text, 1883), topicPrefix }
  }

  if (scheme === 'sim') {
    const firmware = rest.replace(/\/+$/, '').toLowerCase()
    if (!(SIM_FIRMWARES as readonly string[]).includes(firmware)) {
      reject(
        text,
        `names simulated firmware ${JSON.stringify(rest)}, expected one of ${SIM_FIRMWARES.join(', ')}`,
      )
    }
    return { scheme: 'sim', firmware: firmware as SimFirmware }
  }

  reject(text, `has unsupported scheme ${scheme}`)
}

/** A short human label for errors and logs (no credentials ever appear in targets). */
export function describeTarget(target: ConnectionTarget): string {
  switch (target.scheme) {
    case 'serial':
      return `${target.path}@${target.baudRate}`
    case 'tcp':
      return `tcp://${target.host}:${target.port}`
    case 'mqtt':
      return `mqtt://${target.host}:${target.port}/${target.topicPrefix}`
    case 'sim':
      return `sim://${target.firmware}`
  }
}
