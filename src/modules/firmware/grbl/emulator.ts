// A GRBL 1.1-like controller, matching what real 1.1h firmware does behind a
// pty (docs/DEVICES.md, "Firmware"): no banner on open, `$I` answers VER/OPT/ok, `?` `!` `~`
// and Ctrl-X are real-time (picked out of the byte stream at once), reports end
// in \r\n with WCO/Ov only on some of them, failures answer `error:N`, and an
// alarm locks G-code out until `$X` or a reset. `$C` toggles check mode;
// turning it off answers `[MSG:Disabled]`, `ok` and then resets, and a line
// that arrives around that reset is still answered after the banner, as real
// 1.1h firmware did three times out of three.

import { EmulatorBase, type FirmwareEmulator } from '../../devices/sim/types.js'
import { gcodeWords } from '../gcode.js'
import { GRBL_DEFAULT_RX_BUFFER, GRBL_REALTIME } from './wire.js'

export interface GrblEmulatorOptions {
  version?: string
  /** Serial receive buffer in bytes, reported as the last field of OPT. */
  rxBufferSize?: number
  plannerBlocks?: number
  /** Print the banner as soon as the emulator starts (a board reset by DTR does). */
  bannerOnStart?: boolean
  /** After `$C` turns check mode off, the reset comes with the next line or after this long. */
  checkModeResetDelayMs?: number
}

const SUPPORTED_G = new Set([
  0, 1, 2, 3, 4, 10, 17, 18, 19, 20, 21, 28, 30, 40, 43.1, 49, 53, 54, 55, 56, 57, 58, 59, 61, 80, 90, 91, 92,
  93, 94,
])
const SUPPORTED_M = new Set([0, 1, 2, 3, 4, 5, 7, 8, 9, 30])

type Axis = 'X' | 'Y' | 'Z'
const AXES: Axis[] = ['X', 'Y', 'Z']

export class GrblEmulator extends EmulatorBase implements FirmwareEmulator {
  private readonly opts: Required<GrblEmulatorOptions>
  private inbound = ''
  private state = 'Idle'
  private readonly machine: Record<Axis, number> = { X: 0, Y: 0, Z: 0 }
  private readonly wco: Record<Axis, number> = { X: 0, Y: 0, Z: 0 }
  private isRelative = false
  private feed = 0
  private spindle = 0
  private reportCount = 0
  private muteNext = 0
  private delayNextMs = 0
  private alarmOnNext = 0
  private isCheckMode = false
  /** A reset due when the next line arrives: that line is then answered after the banner (`keep`) or lost in it (`drop`). */
  private resetBeforeNext: 'keep' | 'drop' | null = null
  private resetTimer: NodeJS.Timeout | null = null
  private dwell: NodeJS.Timeout | null = null
  private readonly lineQueue: string[] = []
  /** Every line executed, in order. */
  readonly received: string[] = []

  // satisfies, not a type: tests calling hooks by name get them checked.
  readonly hooks = {
    mute: () => this.mute(),
    'delay-next': (ms = '500') => {
      this.delayNextMs = Number(ms)
    },
    reset: () => this.softReset(),
    alarm: (code = '1') => this.alarm(Number(code)),
    'alarm-next': (code = '1') => {
      this.alarmOnNext = Number(code)
    },
    // The controller resets just as the next line arrives; the line comes in after the reset and is answered.
    'reset-before-next': () => {
      this.resetBeforeNext = 'keep'
    },
    // The controller resets just as the next line arrives and the line is lost with its receive buffer.
    'reset-drops-next': () => {
      this.resetBeforeNext = 'drop'
    },
  } satisfies Record<string, (...args: string[]) => void>

  constructor(options: GrblEmulatorOptions = {}) {
    super()
    this.opts = {
      version: options.version ?? '1.1h.20190830',
      rxBufferSize: options.rxBufferSize ?? GRBL_DEFAULT_RX_BUFFER,
      plannerBlocks: options.plannerBlocks ?? 15,
      bannerOnStart: options.bannerOnStart ?? false,
      checkModeResetDelayMs: options.checkModeResetDelayMs ?? 200,
    }
    if (this.opts.bannerOnStart) this.after(0, () => this.banner())
  }

  mute(): void {
    this.muteNext++
  }

  alarm(code: number): void {
    this.state = 'Alarm'
    this.emit(`ALARM:${code}\r\n`)
  }

  write(data: Buffer | string): void {
    if (this.stopped) return
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data
    for (const byte of bytes) {
      // Real-time commands are taken out of the stream wherever they appear.
      if (byte === GRBL_REALTIME.statusQuery) this.statusReport()
      else if (byte === GRBL_REALTIME.feedHold) this.feedHold()
      else if (byte === GRBL_REALTIME.cycleStart) this.cycleStart()
      else if (byte === GRBL_REALTIME.softReset) this.softReset()
      else if (byte >= 0x80) continue
      else if (byte === 0x0a) {
        const line = this.inbound
        this.inbound = ''
        this.lineQueue.push(line)
        this.drain()
      } else if (byte !== 0x0d) this.inbound += String.fromCharCode(byte)
    }
  }

  private drain(): void {
    while (this.dwell === null && this.lineQueue.length > 0 && !this.stopped) {
      const line = this.lineQueue.shift()!
      const resetMode = this.resetBeforeNext
      if (resetMode !== null) {
        this.softReset()
        if (resetMode === 'drop') continue
      }
      const reply = this.execute(line)
      if (reply === null) continue
      if (this.muteNext > 0) {
        this.muteNext--
        continue
      }
      if (this.delayNextMs > 0 && this.dwell === null) {
        // A slow reply (the `delay-next` hook): GRBL answers in order, so later lines wait behind it.
        const ms = this.delayNextMs
        this.delayNextMs = 0
        this.dwell = this.after(ms, () => {
          this.dwell = null
          this.emit(reply)
          this.drain()
        })
        continue
      }
      this.emit(reply)
    }
  }

  private execute(raw: string): string | null {
    const line = raw
      .replace(/\([^)]*\)/g, '')
      .replace(/;.*$/, '')
      .replace(/\s+/g, '')
      .toUpperCase()
    this.received.push(line)
    if (this.alarmOnNext > 0) {
      // A hard limit tripped during this line's motion: ALARM, and no ok.
      const code = this.alarmOnNext
      this.alarmOnNext = 0
      this.alarm(code)
      return null
    }
    if (line === '') return 'ok\r\n'
    if (line.length > 80) return 'error:11\r\n'
    if (line.startsWith('$')) return this.system(line)
    if (this.state === 'Alarm') return 'error:9\r\n'
    const words = gcodeWords(line)
    if (words === null) return /[A-Z]/.test(line.charAt(0)) ? 'error:2\r\n' : 'error:1\r\n'
    return this.gcode(line, words)
  }

  private system(line: string): string {
    switch (line) {
      case '$I':
        return `[VER:${this.opts.version}:]\r\n[OPT:V,${this.opts.plannerBlocks},${this.opts.rxBufferSize}]\r\nok\r\n`
      case '$X':
        if (this.state === 'Alarm') {
          this.state = 'Idle'
          return '[MSG:Caution: Unlocked]\r\nok\r\n'
        }
        return 'ok\r\n'
      case '$C':
        if (!this.isCheckMode) {
          this.isCheckMode = true
          this.state = 'Check'
          return '[MSG:Enabled]\r\nok\r\n'
        }
        // Leaving check mode resets the controller right after the ok.
        this.isCheckMode = false
        this.resetBeforeNext = 'keep'
        this.resetTimer = this.after(this.opts.checkModeResetDelayMs, () => {
          this.resetTimer = null
          if (this.resetBeforeNext !== null) this.softReset()
        })
        return '[MSG:Disabled]\r\nok\r\n'
      case '$H':
        for (const a of AXES) this.machine[a] = 0
        this.state = 'Idle'
        return 'ok\r\n'
      case '$G':
        return `[GC:G0 G54 G17 G21 ${this.isRelative ? 'G91' : 'G90'} G94 M5 M9 T0 F${this.feed} S${this.spindle}]\r\nok\r\n`
      case '$#':
        return `[G54:${this.fmt(this.wco)}]\r\n[G92:0.000,0.000,0.000]\r\n[TLO:0.000]\r\n[PRB:0.000,0.000,0.000:0]\r\nok\r\n`
      case '$$':
        return '$0=10\r\n$1=25\r\n$22=1\r\n$100=250.000\r\n$101=250.000\r\n$102=250.000\r\n$110=500.000\r\nok\r\n'
      default:
        if (this.state !== 'Idle' && this.state !== 'Alarm') return 'error:8\r\n'
        return 'error:3\r\n'
    }
  }

  private gcode(line: string, words: Map<string, number>): string {
    const g = words.get('G')
    const m = words.get('M')
    if (g !== undefined && !SUPPORTED_G.has(g)) return 'error:20\r\n'
    if (m !== undefined && !SUPPORTED_M.has(m)) return 'error:20\r\n'
    if ((line.match(/X/g)?.length ?? 0) > 1 || (line.match(/Y/g)?.length ?? 0) > 1) return 'error:25\r\n'
    const f = words.get('F')
    if (f !== undefined) this.feed = f
    const s = words.get('S')
    if (s !== undefined) this.spindle = s
    if (g === 90) this.isRelative = false
    if (g === 91) this.isRelative = true
    if (g === 1 && this.feed === 0) return 'error:22\r\n'
    // Check mode parses and answers every line but moves nothing.
    if (this.isCheckMode) return 'ok\r\n'
    if (g === 92) {
      for (const a of AXES) {
        const v = words.get(a)
        if (v !== undefined) this.wco[a] = this.machine[a] - v
      }
      return 'ok\r\n'
    }
    if (g === 4) {
      const seconds = words.get('P')
      if (seconds === undefined) return 'error:28\r\n'
      this.state = 'Run'
      this.dwell = this.after(seconds * 1000, () => {
        this.dwell = null
        this.state = 'Idle'
        if (this.muteNext > 0) this.muteNext--
        else this.emit('ok\r\n')
        this.drain()
      })
      return ''
    }
    for (const a of AXES) {
      const v = words.get(a)
      if (v === undefined) continue
      this.machine[a] = this.isRelative ? this.machine[a] + v : v + this.wco[a]
    }
    return 'ok\r\n'
  }

  private statusReport(): void {
    const parts = [
      this.state,
      `MPos:${this.fmt(this.machine)}`,
      `Bf:${this.opts.plannerBlocks},${this.opts.rxBufferSize}`,
      `FS:${this.feed},${this.spindle}`,
    ]
    // Real GRBL adds WCO every 10-30 reports and Ov every 10-20; the first report has both.
    if (this.reportCount % 10 === 0) parts.push(`WCO:${this.fmt(this.wco)}`)
    else if (this.reportCount % 10 === 1) parts.push('Ov:100,100,100')
    this.reportCount++
    this.emit(`<${parts.join('|')}>\r\n`)
  }

  private feedHold(): void {
    if (this.state === 'Run' || this.state === 'Jog') this.state = 'Hold:0'
  }

  private cycleStart(): void {
    if (this.state.startsWith('Hold')) this.state = 'Idle'
  }

  private softReset(): void {
    this.resetBeforeNext = null
    this.cancel(this.resetTimer)
    this.resetTimer = null
    this.isCheckMode = false
    this.inbound = ''
    this.lineQueue.length = 0
    this.cancel(this.dwell)
    this.dwell = null
    this.reportCount = 0
    if (this.state !== 'Alarm') this.state = 'Idle'
    this.banner()
  }

  private banner(): void {
    const major = this.opts.version.replace(/\..*$/, '')
    const minor = /^\d+\.(\d+[a-z]?)/.exec(this.opts.version)?.[1] ?? '1h'
    this.emit(`\r\nGrbl ${major}.${minor} ['$' for help]\r\n`)
  }

  private fmt(p: Record<Axis, number>): string {
    return AXES.map((a) => p[a].toFixed(3)).join(',')
  }
}
