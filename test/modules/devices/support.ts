// Shared by the device tests: emulator processes (pty and TCP fixtures) and a
// listener that records what a connection reports and lets a test await it.

import { type ChildProcess, spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Readings } from '../../../src/modules/devices/protocols/types.js'
import type { ConnectionListener, DeviceStatus, LogDirection } from '../../../src/modules/devices/types.js'

const here = dirname(fileURLToPath(import.meta.url))
export const fixture = (name: string) => join(here, '../../fixtures/firmware', name)

/** A fixture process running an emulator; resolves once it printed `ready`/`listening`. */
export class EmulatorProcess {
  readonly lines: string[] = []
  private readonly events = new EventEmitter()
  private readonly exited: Promise<void>

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(line)
      this.events.emit('line', line)
    })
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[emulator] ${d}`))
  }

  static async start(
    script: 'pty-emulator.ts' | 'tcp-emulator.ts',
    args: string[],
  ): Promise<EmulatorProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture(script), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const emulator = new EmulatorProcess(child)
    await emulator.waitForLine(/^(ready|listening \d+)$/, 20_000)
    return emulator
  }

  get pid(): number {
    return this.child.pid!
  }

  /** Resolves with the first line (already printed or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l))
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const onLine = (line: string) => {
        if (!pattern.test(line)) return
        cleanup()
        resolve(line)
      }
      const onExit = () => {
        cleanup()
        reject(new Error(`emulator exited before printing ${pattern}; output: ${this.lines.join(' | ')}`))
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`emulator did not print ${pattern} within ${timeoutMs} ms`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        this.events.off('line', onLine)
        this.child.off('exit', onExit)
      }
      this.events.on('line', onLine)
      this.child.once('exit', onExit)
    })
  }

  async hook(name: string, ...args: string[]): Promise<void> {
    const count = this.lines.filter((l) => l === `hooked ${name}`).length
    this.child.stdin!.write(`${[name, ...args].join(' ')}\n`)
    // Wait for this hook's own acknowledgement, not an earlier one.
    await new Promise<void>((resolve) => {
      const check = () => {
        if (this.lines.filter((l) => l === `hooked ${name}`).length > count) {
          this.events.off('line', check)
          resolve()
        }
      }
      this.events.on('line', check)
      check()
    })
  }

  /** Lines the emulator executed (`rx ...`), in order. */
  received(): string[] {
    return this.lines.filter((l) => l.startsWith('rx ')).map((l) => l.slice(3))
  }

  /** The emulator exits by itself (its `die` hook), as a crashing firmware bridge would. */
  async die(): Promise<void> {
    this.child.stdin!.write('die\n')
    await this.exited
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
  }
}

/** Records a connection's reports; `waitFor*` resolve on the event, never on a sleep. */
export class Recorder implements ConnectionListener {
  readonly statuses: { status: DeviceStatus; lastError: string | null }[] = []
  readonly logs: { direction: LogDirection; line: string }[] = []
  readonly telemetrySnapshots: Readings[] = []
  readonly firmwareVersions: string[] = []
  readonly warnings: string[] = []
  trafficCount = 0
  private readonly events = new EventEmitter()

  status(status: DeviceStatus, lastError: string | null): void {
    this.statuses.push({ status, lastError })
    this.events.emit('status', status)
  }

  telemetry(readings: Readings): void {
    this.telemetrySnapshots.push(readings)
    this.events.emit('telemetry', readings)
  }

  log(direction: LogDirection, line: string): void {
    this.logs.push({ direction, line })
    this.events.emit('log', { direction, line })
  }

  firmwareVersion(version: string): void {
    this.firmwareVersions.push(version)
  }

  traffic(): void {
    this.trafficCount++
  }

  warning(message: string): void {
    this.warnings.push(message)
  }

  private waitOn<T>(
    event: string,
    match: (value: T) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const onEvent = (value: T) => {
        if (!match(value)) return
        clearTimeout(timer)
        this.events.off(event, onEvent)
        resolve(value)
      }
      const timer = setTimeout(() => {
        this.events.off(event, onEvent)
        reject(new Error(`no ${what} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.events.on(event, onEvent)
    })
  }

  /** The next status change to `status` (after this call). */
  nextStatus(status: DeviceStatus, timeoutMs = 15_000): Promise<DeviceStatus> {
    return this.waitOn<DeviceStatus>('status', (s) => s === status, `status ${status}`, timeoutMs)
  }

  /** The first snapshot (past or future) for which `match` holds. */
  telemetryWhere(match: (r: Readings) => boolean, timeoutMs = 10_000): Promise<Readings> {
    const seen = this.telemetrySnapshots.find(match)
    if (seen) return Promise.resolve(seen)
    return this.waitOn<Readings>('telemetry', match, 'matching telemetry', timeoutMs)
  }

  logWhere(match: (e: { direction: LogDirection; line: string }) => boolean, timeoutMs = 10_000) {
    const seen = this.logs.find(match)
    if (seen) return Promise.resolve(seen)
    return this.waitOn<{ direction: LogDirection; line: string }>(
      'log',
      match,
      'matching log line',
      timeoutMs,
    )
  }
}
