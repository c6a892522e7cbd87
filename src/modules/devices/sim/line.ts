// Two tiny dialects for the generic protocols: `line` answers each line with
// one line, `jsonl` answers JSON (`PING` in plain text `PONG`, `noisy` with a
// text line before its JSON answer) and pushes telemetry samples on its own.

import { EmulatorBase, type FirmwareEmulator } from './types.js'

export class LineEchoEmulator extends EmulatorBase implements FirmwareEmulator {
  private inbound = ''
  private muteNext = 0
  readonly received: string[] = []
  readonly hooks: Record<string, (...args: string[]) => void> = {
    mute: () => {
      this.muteNext++
    },
  }

  write(data: Buffer | string): void {
    this.inbound += data.toString()
    let nl = this.inbound.indexOf('\n')
    while (nl >= 0) {
      const line = this.inbound.slice(0, nl).replace(/\r$/, '')
      this.inbound = this.inbound.slice(nl + 1)
      this.received.push(line)
      if (this.muteNext > 0) this.muteNext--
      else this.emit(`echo ${line}\r\n`)
      nl = this.inbound.indexOf('\n')
    }
  }
}

export interface JsonlEmulatorOptions {
  /** Push `{"temperature":...}` samples at this interval; 0 = only on `sample` hook. */
  sampleIntervalMs?: number
}

export class JsonlEmulator extends EmulatorBase implements FirmwareEmulator {
  private inbound = ''
  private muteNext = 0
  private counter = 0
  readonly received: string[] = []
  readonly hooks: Record<string, (...args: string[]) => void> = {
    mute: () => {
      this.muteNext++
    },
    sample: (value = '20') => this.sample(Number(value)),
  }

  constructor(options: JsonlEmulatorOptions = {}) {
    super()
    if (options.sampleIntervalMs)
      this.every(options.sampleIntervalMs, () => this.sample(20 + (this.counter++ % 5)))
  }

  sample(temperature: number): void {
    this.emit(`${JSON.stringify({ temperature, humidity: 40 })}\n`)
  }

  write(data: Buffer | string): void {
    this.inbound += data.toString()
    let nl = this.inbound.indexOf('\n')
    while (nl >= 0) {
      const line = this.inbound.slice(0, nl).trim()
      this.inbound = this.inbound.slice(nl + 1)
      nl = this.inbound.indexOf('\n')
      this.received.push(line)
      if (this.muteNext > 0) {
        this.muteNext--
        continue
      }
      if (line === 'fail') this.emit(`${JSON.stringify({ ok: false, error: 'refused' })}\n`)
      // Small firmware often answers a keepalive in plain text.
      else if (line === 'PING') this.emit('PONG\n')
      // Firmware that prints progress text before its JSON answer.
      else if (line === 'noisy')
        this.emit(`note: working on it\n${JSON.stringify({ ok: true, result: line })}\n`)
      else this.emit(`${JSON.stringify({ ok: true, result: line })}\n`)
    }
  }
}
