// A Marlin-like printer: `ok` per line, N-numbered lines with checksums and
// `Resend:`, `echo:busy: processing` during long moves, temperatures via M105
// and M155 auto-report, positions via M114, M115 with capabilities, M118 echo.

import { EmulatorBase, type FirmwareEmulator } from '../../devices/sim/types.js'
import { gcodeWords } from '../gcode.js'
import { marlinChecksum } from './wire.js'

export interface MarlinEmulatorOptions {
  /** Host keepalive interval (Marlin's default is 2 s). */
  busyIntervalMs?: number
  /** Degrees per second the heaters move towards their target. */
  heatRatePerS?: number
  ambientC?: number
  version?: string
  /** Whether M115 advertises AUTOREPORT_TEMP (M155). */
  autoReportTemperature?: boolean
  /** Whether M118 (serial print) is built in; without it M118 is an unknown command. */
  m118?: boolean
  /** How unknown commands are answered: Marlin's `echo:Unknown command: "..."` + `ok`, or a bare `ok` as some builds do. */
  unknownCommands?: 'echo' | 'ok'
  /** The heaters do not heat (a broken cartridge, a loose wire): they only cool towards ambient. */
  heaterFault?: boolean
}

type Axis = 'X' | 'Y' | 'Z' | 'E'
const AXES: Axis[] = ['X', 'Y', 'Z', 'E']

interface Heater {
  current: number
  target: number
}

export class MarlinEmulator extends EmulatorBase implements FirmwareEmulator {
  private readonly opts: Required<MarlinEmulatorOptions>
  private inbound = ''
  private readonly queue: string[] = []
  private isBusy = false
  private lastLine = 0
  private resendRequested = false
  private muteNext = 0
  private delayNextMs = 0
  private isHalted = false
  private isHung = false
  /** Lines still read before the controller freezes (the `hang N` hook); null: no freeze coming. */
  private linesBeforeHang: number | null = null
  private isHeatingSilent = false
  private isRelative = false
  private readonly position: Record<Axis, number> = { X: 0, Y: 0, Z: 0, E: 0 }
  private readonly hotend: Heater
  private readonly bed: Heater
  private heatedAt = Date.now()
  private isHeaterFaulty: boolean
  private autoReportTimer: NodeJS.Timeout | null = null
  /** Every command line executed, in order (what the host really delivered). */
  readonly received: string[] = []

  // satisfies, not a type: tests calling hooks by name get them checked.
  readonly hooks = {
    resend: () => this.requestResend(),
    mute: () => this.mute(),
    'delay-next': (ms = '500') => this.delayNext(Number(ms)),
    temps: (t = '21', b = '21') => this.setTemperatures(Number(t), Number(b)),
    report: () => this.reportTemperatures(),
    reset: () => this.reset(),
    'heater-fault': () => this.setHeaterFault(true),
    'heater-ok': () => this.setHeaterFault(false),
    hang: (lines = '0') => this.hang(Number(lines)),
    'silent-heating': () => {
      this.isHeatingSilent = true
    },
  } satisfies Record<string, (...args: string[]) => void>

  constructor(options: MarlinEmulatorOptions = {}) {
    super()
    this.opts = {
      busyIntervalMs: options.busyIntervalMs ?? 2000,
      heatRatePerS: options.heatRatePerS ?? 8,
      ambientC: options.ambientC ?? 21,
      version: options.version ?? '2.1.2.1',
      autoReportTemperature: options.autoReportTemperature ?? true,
      m118: options.m118 ?? true,
      unknownCommands: options.unknownCommands ?? 'echo',
      heaterFault: options.heaterFault ?? false,
    }
    this.isHeaterFaulty = this.opts.heaterFault
    this.hotend = { current: this.opts.ambientC, target: 0 }
    this.bed = { current: this.opts.ambientC, target: 0 }
  }

  /** The next numbered line is answered as if it arrived corrupted. */
  requestResend(): void {
    this.resendRequested = true
  }

  /** The next command is executed but never acknowledged (host must time out). */
  mute(): void {
    this.muteNext++
  }

  /** The next command's reply comes `ms` later; lines behind it wait, as they do in the planner. */
  delayNext(ms: number): void {
    this.delayNextMs = ms
  }

  /** From now on the heaters stop heating (or heat again); what they reached so far cools off. */
  setHeaterFault(faulty: boolean): void {
    this.updateHeaters()
    this.isHeaterFaulty = faulty
  }

  /** A frozen controller: after `lines` more lines, nothing is read, executed or answered, until a reset. */
  hang(lines = 0): void {
    this.linesBeforeHang = lines
    if (lines <= 0) this.freeze()
  }

  private freeze(): void {
    this.isHung = true
    this.linesBeforeHang = null
    this.cancel(this.autoReportTimer)
    this.autoReportTimer = null
  }

  setTemperatures(hotendC: number, bedC: number): void {
    this.hotend.current = hotendC
    this.bed.current = bedC
    this.heatedAt = Date.now()
  }

  reportTemperatures(): void {
    this.emit(` ${this.temperatureText()}\n`)
  }

  /** M112: everything queued is dropped and nothing more is read until a reset. */
  private halt(): void {
    this.isHalted = true
    this.queue.length = 0
    this.emit('Error:Printer halted. kill() called!\n')
  }

  /** A reboot, as after a watchdog reset: the banner again, state lost. */
  reset(): void {
    this.queue.length = 0
    this.isBusy = false
    this.lastLine = 0
    this.isHalted = false
    this.isHung = false
    this.linesBeforeHang = null
    this.cancel(this.autoReportTimer)
    this.autoReportTimer = null
    this.emit(`start\necho:Marlin ${this.opts.version}\necho: Last Updated: 2023-07-01 | Author: (myntrix)\n`)
  }

  write(data: Buffer | string): void {
    if (this.stopped) return
    this.inbound += typeof data === 'string' ? data : data.toString('latin1')
    let nl = this.inbound.search(/[\r\n]/)
    while (nl >= 0) {
      const line = this.inbound.slice(0, nl).trim()
      this.inbound = this.inbound.slice(nl + 1)
      if (line !== '') this.accept(line)
      nl = this.inbound.search(/[\r\n]/)
    }
  }

  /** Line-number and checksum checks happen on arrival, as Marlin's serial reader does. */
  private accept(raw: string): void {
    if (this.linesBeforeHang !== null && this.linesBeforeHang-- <= 0) this.freeze()
    if (this.isHalted || this.isHung) return
    // The emergency parser (EMERGENCY_PARSER, on in stock Marlin 2 builds) acts on arrival, ahead of the queue.
    if (/^(?:N\d+\s*)?M112\b/i.test(raw)) {
      this.halt()
      return
    }
    const numbered = /^N(\d+)\s*(.*)$/.exec(raw)
    if (!numbered) {
      this.enqueue(raw)
      return
    }
    const star = raw.lastIndexOf('*')
    if (star < 0) {
      this.askResend('No Checksum with line number')
      return
    }
    const lineNumber = Number(numbered[1])
    const body = raw.slice(0, star)
    const checksum = Number(raw.slice(star + 1))
    const command = body.replace(/^N\d+\s*/, '').trim()
    const isM110 = /^M110\b/i.test(command)
    if (this.resendRequested || checksum !== marlinChecksum(body)) {
      this.resendRequested = false
      this.askResend('checksum mismatch')
      return
    }
    if (!isM110 && lineNumber !== this.lastLine + 1) {
      this.askResend('Line Number is not Last Line Number+1')
      return
    }
    this.lastLine = lineNumber
    this.enqueue(command)
  }

  private askResend(reason: string): void {
    this.emit(`Error:${reason}, Last Line: ${this.lastLine}\nResend: ${this.lastLine + 1}\nok\n`)
  }

  private enqueue(command: string): void {
    this.queue.push(command)
    this.drain()
  }

  private drain(): void {
    while (!this.isHung && !this.isBusy && this.queue.length > 0 && !this.stopped) {
      const command = this.queue.shift()!
      this.received.push(command)
      const muted = this.muteNext > 0
      if (muted) this.muteNext--
      const delayMs = this.delayNextMs
      this.delayNextMs = 0
      this.isBusy = true
      const reply = (text: string) => {
        this.isBusy = false
        if (!muted && !this.isHung) this.emit(text)
        this.drain()
      }
      const finish = (text: string) => (delayMs > 0 ? this.after(delayMs, () => reply(text)) : reply(text))
      const answer = this.execute(command, finish)
      if (answer !== undefined) finish(answer)
    }
  }

  /** Returns the reply, or undefined when the command answers later through `done`. */
  private execute(line: string, done: (reply: string) => void): string | undefined {
    const text = line.replace(/;.*$/, '').trim()
    if (text === '') return 'ok\n'
    // text is not empty, so it has a first word.
    const [word = ''] = text.split(/\s+/, 1)
    const code = word.toUpperCase()
    const words = gcodeWords(text.slice(word.length)) ?? new Map<string, number>()
    this.updateHeaters()
    switch (code) {
      case 'G0':
      case 'G1':
        for (const axis of AXES) {
          const v = words.get(axis)
          if (v !== undefined) this.position[axis] = this.isRelative ? this.position[axis] + v : v
        }
        return 'ok\n'
      case 'G28': {
        const homed = AXES.filter((a) => a !== 'E' && words.has(a))
        for (const axis of homed.length > 0 ? homed : (['X', 'Y', 'Z'] as Axis[])) this.position[axis] = 0
        return 'ok\n'
      }
      case 'G90':
        this.isRelative = false
        return 'ok\n'
      case 'G91':
        this.isRelative = true
        return 'ok\n'
      case 'G92':
        for (const axis of AXES) {
          const v = words.get(axis)
          if (v !== undefined) this.position[axis] = v
        }
        return 'ok\n'
      case 'G4': {
        const ms = (words.get('P') ?? 0) + (words.get('S') ?? 0) * 1000
        this.waitBusy(ms, done)
        return undefined
      }
      case 'M104':
        this.hotend.target = words.get('S') ?? 0
        return 'ok\n'
      case 'M140':
        this.bed.target = words.get('S') ?? 0
        return 'ok\n'
      case 'M109':
      case 'M190': {
        const heater = code === 'M109' ? this.hotend : this.bed
        heater.target = words.get('S') ?? words.get('R') ?? heater.target
        this.waitHeating(heater, done)
        return undefined
      }
      case 'M105':
        return `ok ${this.temperatureText()}\n`
      case 'M114':
        return `${this.positionText()}\nok\n`
      case 'M115':
        return (
          `FIRMWARE_NAME:Marlin ${this.opts.version} (Myntrix emulator) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Myntrix Sim EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff\n` +
          `Cap:SERIAL_XON_XOFF:0\nCap:EEPROM:1\nCap:AUTOREPORT_TEMP:${this.opts.autoReportTemperature ? 1 : 0}\n` +
          'Cap:AUTOREPORT_POS:0\nCap:BUSY_PROTOCOL:1\nCap:EMERGENCY_PARSER:1\nok\n'
        )
      case 'M155': {
        if (!this.opts.autoReportTemperature) return this.unknown(text)
        const seconds = words.get('S') ?? 0
        this.cancel(this.autoReportTimer)
        this.autoReportTimer = seconds > 0 ? this.every(seconds * 1000, () => this.autoReport()) : null
        return 'ok\n'
      }
      case 'M110':
        this.lastLine = words.get('N') ?? 0
        return 'ok\n'
      case 'M999':
        this.isHalted = false
        return 'ok\n'
      case 'M118': {
        if (!this.opts.m118) return this.unknown(text)
        // Marlin prints the text after the flags; E1 prefixes `echo:`, A1 `//`, Pn picks a port.
        const [, flags, message] = /^M118((?:\s+[AEP]\d)*)\s*(.*)$/i.exec(text) ?? ['', '', '']
        const prefix = /E1/i.test(flags) ? 'echo:' : /A1/i.test(flags) ? '//' : ''
        return `${prefix}${message}\nok\n`
      }
      case 'M20':
        return 'Begin file list\nEnd file list\nok\n'
      case 'M82':
      case 'M83':
      case 'M84':
      case 'M106':
      case 'M107':
      case 'M400':
      case 'G21':
        return 'ok\n'
      default:
        return this.unknown(text)
    }
  }

  private unknown(text: string): string {
    return this.opts.unknownCommands === 'ok' ? 'ok\n' : `echo:Unknown command: "${text}"\nok\n`
  }

  /** Long commands keep the host informed with `busy:` lines, as Marlin's host keepalive does. */
  private waitBusy(ms: number, done: (reply: string) => void): void {
    const started = Date.now()
    const tick = () => {
      const left = ms - (Date.now() - started)
      if (left <= 0) {
        done('ok\n')
        return
      }
      this.emit('echo:busy: processing\n')
      this.after(Math.min(this.opts.busyIntervalMs, Math.max(left, 1)), tick)
    }
    if (ms <= 0) {
      done('ok\n')
      return
    }
    this.after(Math.min(this.opts.busyIntervalMs, ms), tick)
  }

  /** M109/M190 print a temperature line each second until the heater is there. */
  private waitHeating(heater: Heater, done: (reply: string) => void): void {
    const tick = () => {
      this.updateHeaters()
      if (Math.abs(heater.current - heater.target) < 0.5 || heater.target <= 0) {
        done('ok\n')
        return
      }
      if (!this.isHeatingSilent && !this.isHung) this.emit(` ${this.temperatureText()} W:?\n`)
      this.after(Math.min(1000, this.opts.busyIntervalMs), tick)
    }
    tick()
  }

  private autoReport(): void {
    this.updateHeaters()
    this.emit(` ${this.temperatureText()}\n`)
  }

  private updateHeaters(): void {
    const now = Date.now()
    const step = ((now - this.heatedAt) / 1000) * this.opts.heatRatePerS
    this.heatedAt = now
    for (const h of [this.hotend, this.bed]) {
      const goal = h.target > 0 && !this.isHeaterFaulty ? h.target : this.opts.ambientC
      h.current = h.current < goal ? Math.min(goal, h.current + step) : Math.max(goal, h.current - step)
    }
  }

  private temperatureText(): string {
    const h = this.hotend
    const b = this.bed
    return `T:${h.current.toFixed(2)} /${h.target.toFixed(2)} B:${b.current.toFixed(2)} /${b.target.toFixed(2)} @:0 B@:0`
  }

  private positionText(): string {
    const p = this.position
    return `X:${p.X.toFixed(2)} Y:${p.Y.toFixed(2)} Z:${p.Z.toFixed(2)} E:${p.E.toFixed(2)} Count X:${Math.round(p.X * 80)} Y:${Math.round(p.Y * 80)} Z:${Math.round(p.Z * 400)}`
  }
}
