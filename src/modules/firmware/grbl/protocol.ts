// GRBL 1.1: `ok` or `error:N` per line, real-time single bytes (`?` `!` `~`
// Ctrl-X) that bypass the line buffer, `<...>` status reports that may arrive
// between a line and its `ok`, `ALARM:N` that may leave a line unanswered, and
// no greeting on a port that did not reset the board (docs/DEVICES.md, "Firmware").

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
import { grblAlarmMessage, grblErrorMessage } from './codes.js'
import { GRBL_DEFAULT_RX_BUFFER, GRBL_REALTIME } from './wire.js'

const REALTIME: Record<string, RealtimeCommand> = {
  '?': { bytes: Buffer.from([GRBL_REALTIME.statusQuery]), awaitsReport: true },
  '!': { bytes: Buffer.from([GRBL_REALTIME.feedHold]), awaitsReport: false },
  '~': { bytes: Buffer.from([GRBL_REALTIME.cycleStart]), awaitsReport: false },
  '\x18': { bytes: Buffer.from([GRBL_REALTIME.softReset]), awaitsReport: false },
  '^X': { bytes: Buffer.from([GRBL_REALTIME.softReset]), awaitsReport: false },
  'ctrl-x': { bytes: Buffer.from([GRBL_REALTIME.softReset]), awaitsReport: false },
}

type Vector = [number, number, number]

function vector(text: string): Vector | null {
  const parts = text.split(',').map(Number)
  const [x, y, z] = parts
  if (x === undefined || y === undefined || z === undefined || parts.some((n) => !Number.isFinite(n)))
    return null
  return [x, y, z]
}

export class GrblProtocol implements Protocol {
  readonly name = 'grbl'
  /** From the last field of `[OPT:...]`; 128 until the firmware says otherwise. */
  rxBufferSize = GRBL_DEFAULT_RX_BUFFER
  /** Kept between reports: WCO and Ov appear only on some of them. */
  private wco: Vector = [0, 0, 0]
  private isAlarmed = false

  encode(command: string): string {
    return `${command}\n`
  }

  realtime(command: string): RealtimeCommand | null {
    return REALTIME[command] ?? REALTIME[command.trim().toLowerCase()] ?? null
  }

  syncProbe(timedOut: string): SyncProbe {
    // GRBL runs lines in order, so a late `ok` of the timed-out line comes
    // before the probe's report line. `$G` answers `[GC:...]`; if `$G` itself
    // timed out its late `[GC:` would pass for the probe's, so ask `$I` then.
    return /^\s*\$G\s*$/i.test(timedOut)
      ? { command: '$I', isMarker: (line) => line.startsWith('[VER:') }
      : { command: '$G', isMarker: (line) => line.startsWith('[GC:') }
  }

  onLine(line: string, pending: string | null): ProtocolEvent[] {
    const text = line.trim()
    // The banner starts with its own CRLF: a blank line belongs to no reply.
    if (text === '') return []
    if (text === 'ok') return [{ kind: 'ok' }]
    const error = /^error:(\d+)/i.exec(text)
    if (error) return [{ kind: 'fail', message: grblErrorMessage(Number(error[1])) }]
    const alarm = /^ALARM:(\d+)/i.exec(text)
    if (alarm) {
      this.isAlarmed = true
      return [
        { kind: 'telemetry', readings: { state: 'Alarm', alarm: Number(alarm[1]) } },
        { kind: 'alarm', message: grblAlarmMessage(Number(alarm[1])) },
      ]
    }
    if (text.startsWith('<') && text.endsWith('>')) return this.report(text.slice(1, -1))
    const banner = /^Grbl\s+(\S+)/.exec(text)
    if (banner) {
      return [
        { kind: 'firmware', version: `Grbl ${banner[1]}` },
        { kind: 'reset', message: `the controller reset (${text})` },
      ]
    }
    const ver = /^\[VER:([^:\]]*)/.exec(text)
    if (ver) return [{ kind: 'firmware', version: `Grbl ${ver[1]}` }, { kind: 'response' }]
    const opt = /^\[OPT:([^\]]*)\]/.exec(text)
    if (opt) {
      // No options field reads as NaN: the buffer size stays as it is.
      const size = Number(opt[1]?.split(',').at(-1))
      if (Number.isInteger(size) && size > 0) this.rxBufferSize = size
      return [{ kind: 'response' }]
    }
    if (/^\[MSG:Caution: Unlocked\]/.test(text) && this.isAlarmed) {
      this.isAlarmed = false
      return [{ kind: 'alarm-cleared' }, { kind: 'response' }]
    }
    return pending === null ? [] : [{ kind: 'response' }]
  }

  private report(body: string): ProtocolEvent[] {
    // split always yields at least one element, so the defaults only satisfy the type.
    const [stateField = '', ...fields] = body.split('|')
    const [state = '', subState] = stateField.split(':')
    const readings: Readings = { state }
    // A short field (`FS:500` without the spindle) leaves the missing readings out.
    const read = (name: string, n: number | undefined): void => {
      if (n !== undefined) readings[name] = n
    }
    if (subState !== undefined) readings.subState = Number(subState)
    let machine: Vector | null = null
    let work: Vector | null = null
    for (const field of fields) {
      const colon = field.indexOf(':')
      const key = field.slice(0, colon)
      const value = field.slice(colon + 1)
      const numbers = value.split(',').map(Number)
      if (key === 'MPos') machine = vector(value)
      else if (key === 'WPos') work = vector(value)
      else if (key === 'WCO') this.wco = vector(value) ?? this.wco
      else if (key === 'FS') {
        read('feed', numbers[0])
        read('spindle', numbers[1])
      } else if (key === 'F') read('feed', numbers[0])
      else if (key === 'Ov') {
        read('feedOverride', numbers[0])
        read('rapidOverride', numbers[1])
        read('spindleOverride', numbers[2])
      } else if (key === 'Bf') {
        read('plannerBlocksFree', numbers[0])
        read('rxBytesFree', numbers[1])
      } else if (key === 'Ln') read('lineNumber', numbers[0])
      else if (key === 'Pn') readings.pins = value
    }
    // Operators read work coordinates; GRBL reports one of MPos/WPos and WCO = MPos - WPos.
    if (machine && !work)
      work = [machine[0] - this.wco[0], machine[1] - this.wco[1], machine[2] - this.wco[2]]
    if (work && !machine) machine = [work[0] + this.wco[0], work[1] + this.wco[1], work[2] + this.wco[2]]
    if (work && machine) {
      const round = (n: number) => Math.round(n * 1000) / 1000
      readings.positionX = round(work[0])
      readings.positionY = round(work[1])
      readings.positionZ = round(work[2])
      readings.machineX = round(machine[0])
      readings.machineY = round(machine[1])
      readings.machineZ = round(machine[2])
    }
    const events: ProtocolEvent[] = [{ kind: 'telemetry', readings, report: true }]
    if (this.isAlarmed && state !== 'Alarm') {
      this.isAlarmed = false
      events.push({ kind: 'alarm-cleared' })
    }
    return events
  }

  async handshake(session: ProtocolSession): Promise<void> {
    // A pty or a USB adapter without DTR reset never shows the boot banner:
    // ask for build info instead of waiting for a greeting.
    await askUntilAnswered(session, '$I')
  }

  start(session: ProtocolSession): () => void {
    const intervalMs = session.config.statusPollMs
    if (intervalMs <= 0) return () => {}
    const query = Buffer.from([GRBL_REALTIME.statusQuery])
    const poll = () => session.writeRealtime(query, { quiet: true }).catch(() => {})
    poll()
    const timer = setInterval(poll, intervalMs)
    return () => clearInterval(timer)
  }
}

export const grbl = (_config: ResolvedConfiguration): Protocol => new GrblProtocol()
