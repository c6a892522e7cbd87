// Marlin (and its RepRap relatives): one `ok` per line, N-numbered lines with
// an XOR checksum, `Resend: N` after a corrupted line (followed by an `ok`
// that acknowledges the error, not the line), `busy:` keepalives, temperature
// reports from M105 or M155 auto-report, positions from M114.

import type { ResolvedConfiguration } from '../../devices/configuration.js'
import { askUntilAnswered } from '../../devices/protocols/handshake.js'
import type {
  Protocol,
  ProtocolEvent,
  ProtocolSession,
  Readings,
  RealtimeCommand,
  SyncProbe,
} from '../../devices/protocols/types.js'
import { marlinFrame } from './wire.js'

/**
 * An emergency stop goes out at once, unnumbered, past the queue and past a
 * file being streamed: one that waited for the line in flight (a heat-up can
 * hold its `ok` for minutes) would not be one. Marlin's emergency parser acts
 * on it as its bytes arrive; a firmware built without the parser reads it in
 * order. It answers no `ok` (the firmware halts), so no reply is owed. The
 * parser's other commands (M108, M410) do answer `ok`, which would be taken
 * for the line in flight's: they go through the queue like any command.
 */
const EMERGENCY_STOP = /^M112(?![\d.])/i

// Enough lines to answer any Resend with one line (or a planner's worth) in flight.
const HISTORY_LINES = 256

const TEMPERATURE = /(?:^|\s)(T\d*|B|C|P|A):\s*(-?\d+(?:\.\d+)?)(?:\s*\/\s*(-?\d+(?:\.\d+)?))?/g
const POSITION =
  /^X:\s*(-?\d+(?:\.\d+)?)\s+Y:\s*(-?\d+(?:\.\d+)?)\s+Z:\s*(-?\d+(?:\.\d+)?)(?:\s+E:\s*(-?\d+(?:\.\d+)?))?/

const HEATER_NAMES: Record<string, [string, string]> = {
  T: ['temperature', 'targetTemperature'],
  B: ['bedTemperature', 'bedTargetTemperature'],
  C: ['chamberTemperature', 'chamberTargetTemperature'],
  P: ['probeTemperature', 'probeTargetTemperature'],
  A: ['ambientTemperature', 'ambientTargetTemperature'],
}

export function parseTemperatures(line: string): Readings | null {
  const readings: Readings = {}
  let found = false
  for (const m of line.matchAll(TEMPERATURE)) {
    found = true
    const [, key, current, target] = m
    // key and current always take part in a TEMPERATURE match.
    if (key === undefined || current === undefined) continue
    const names = HEATER_NAMES[key] ?? [`temperature${key.slice(1)}`, `targetTemperature${key.slice(1)}`]
    // With several hotends Marlin prints T: (active) plus T0:, T1:; keep both.
    readings[names[0]] = Number(current)
    if (target !== undefined) readings[names[1]] = Number(target)
  }
  return found ? readings : null
}

export function parsePosition(line: string): Readings | null {
  const m = POSITION.exec(line.trim())
  if (!m) return null
  const readings: Readings = { positionX: Number(m[1]), positionY: Number(m[2]), positionZ: Number(m[3]) }
  if (m[4] !== undefined) readings.positionE = Number(m[4])
  return readings
}

export class MarlinProtocol implements Protocol {
  readonly name = 'marlin'
  private nextLine = 1
  private readonly history = new Map<number, string>()
  private oksToSkip = 0
  private syncCount = 0
  readonly capabilities = new Map<string, boolean>()

  constructor(private readonly config: ResolvedConfiguration) {}

  realtime(command: string): RealtimeCommand | null {
    return EMERGENCY_STOP.test(command.trim())
      ? { bytes: Buffer.from('M112\n', 'latin1'), awaitsReport: false }
      : null
  }

  encode(command: string): string {
    if (!this.config.lineNumbers) return `${command}\n`
    const m110 = /^M110(?:\s+N(\d+))?\b/i.exec(command)
    // M110 sets the line number itself; it is sent carrying that number.
    const lineNumber = m110 ? Number(m110[1] ?? 0) : this.nextLine
    this.nextLine = lineNumber + 1
    const wire = `${marlinFrame(lineNumber, command)}\n`
    this.history.set(lineNumber, wire)
    this.history.delete(lineNumber - HISTORY_LINES)
    return wire
  }

  resend(lineNumber: number): string[] {
    const lines: string[] = []
    for (let n = lineNumber; n < this.nextLine; n++) {
      const wire = this.history.get(n)
      if (wire !== undefined) lines.push(wire)
    }
    return lines
  }

  syncProbe(): SyncProbe {
    // M118 E1 prints `echo:<text>`; a firmware without M118 still prints the
    // text inside `echo:Unknown command: "..."`. The count keeps it unique.
    // Some builds answer unknown commands with a bare `ok`: then the marker
    // never comes, and M110 N0 puts the line numbers back in step (a line the
    // firmware dropped would otherwise make every later line a resend).
    const token = `myntrix-sync-${++this.syncCount}`
    const marker = new RegExp(`${token}(?!\\d)`)
    return { command: `M118 E1 ${token}`, isMarker: (line) => marker.test(line), fallback: ['M110 N0'] }
  }

  onLine(line: string, pending: string | null): ProtocolEvent[] {
    const text = line.trim()
    if (/^ok\b/i.test(text)) {
      const events: ProtocolEvent[] = []
      if (this.oksToSkip > 0) {
        this.oksToSkip--
        events.push({ kind: 'consumed' })
      } else events.push({ kind: 'ok' })
      const temps = parseTemperatures(text.slice(2))
      if (temps) events.push({ kind: 'telemetry', readings: temps })
      return events
    }
    const resend = /^(?:Resend|rs):?\s*N?(\d+)/i.exec(text)
    if (resend) {
      // Marlin follows every Resend with an ok that belongs to the error.
      this.oksToSkip++
      return [{ kind: 'resend', lineNumber: Number(resend[1]) }]
    }
    if (/busy:/i.test(text)) return [{ kind: 'busy' }]
    if (/^Error:/i.test(text)) {
      if (/halted|kill\(\)|stopped/i.test(text)) return [{ kind: 'alarm', message: text.slice(6).trim() }]
      // Checksum and line-number errors are answered by the Resend that follows.
      return []
    }
    if (text === 'start') {
      // The firmware rebooted: it expects line 1 next and remembers nothing.
      this.nextLine = 1
      this.history.clear()
      this.oksToSkip = 0
      return [{ kind: 'reset', message: 'the firmware restarted (start)' }]
    }
    const firmware = /FIRMWARE_NAME:\s*(.*?)(?:\s+(?:SOURCE_CODE_URL|PROTOCOL_VERSION|MACHINE_TYPE):|$)/.exec(
      text,
    )
    // (An optional-free group always takes part in its match: `?? ''` only satisfies the type.)
    if (firmware) return [{ kind: 'firmware', version: (firmware[1] ?? '').trim() }, { kind: 'response' }]
    const cap = /^Cap:(\w+):([01])/.exec(text)
    if (cap) {
      this.capabilities.set(cap[1] ?? '', cap[2] === '1')
      return [{ kind: 'response' }]
    }
    const position = parsePosition(text)
    if (position) return [{ kind: 'telemetry', readings: position }, { kind: 'response' }]
    const temps = /^(T\d*|B):/.test(text) ? parseTemperatures(text) : null
    if (temps) {
      const asked = pending !== null && /^M105\b/i.test(pending)
      return asked
        ? [{ kind: 'telemetry', readings: temps }, { kind: 'response' }]
        : [{ kind: 'telemetry', readings: temps, report: true }]
    }
    return pending === null ? [] : [{ kind: 'response' }]
  }

  async handshake(session: ProtocolSession): Promise<void> {
    await askUntilAnswered(session, 'M110 N0')
    await askUntilAnswered(session, 'M115')
  }

  start(session: ProtocolSession): () => void {
    const { temperatureReport: mode, temperatureIntervalMs: intervalMs } = session.config
    if (mode === 'off') return () => {}
    const auto =
      mode === 'autoreport' || (mode === 'auto' && this.capabilities.get('AUTOREPORT_TEMP') === true)
    if (auto) {
      // M155 takes whole seconds.
      const seconds = Math.max(1, Math.round(intervalMs / 1000))
      session.command(`M155 S${seconds}`, { quiet: true }).catch(() => {})
      return () => {}
    }
    let isPolling = false
    const poll = () => {
      if (isPolling) return
      isPolling = true
      session
        .command('M105', { quiet: true })
        .catch(() => {})
        .finally(() => {
          isPolling = false
        })
    }
    poll()
    const timer = setInterval(poll, intervalMs)
    return () => clearInterval(timer)
  }
}

export const marlin = (config: ResolvedConfiguration): Protocol => new MarlinProtocol(config)
