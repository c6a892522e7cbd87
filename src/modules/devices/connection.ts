// One actor per connected device. It owns the transport, frames inbound bytes
// into lines, lets the protocol classify them, and serialises commands through
// a queue so bytes of two commands never interleave on the wire. Real-time
// commands (GRBL `?` `!` `~` Ctrl-X) bypass the queue. An unexpected drop is
// reported once and, while the device is meant to be connected, reopened with
// backoff. The pieces, one concern each: reconnect.ts (whether and when to
// reopen), command-queue.ts (the queue), reply-tracker.ts and reply-sync.ts
// (which reply belongs to which command), realtime-reports.ts (queries that a
// report line answers), exclusive.ts (a file stream holding the queue).

import { performance } from 'node:perf_hooks'
import { ReadlineParser } from '@serialport/parser-readline'
import { ValidationError } from '../../errors.js'
import { CommandQueue } from './command-queue.js'
import { defaultProtocolFor, type ResolvedConfiguration, resolveConfiguration } from './configuration.js'
import { type ConnectionTarget, describeTarget } from './connection-string.js'
import { DeviceCommandError, DeviceNotConnectedError, DeviceOpenError } from './errors.js'
import { type ExclusiveSession, exclusiveSession, type LineTap } from './exclusive.js'
import { protocols as protocolRegistry } from './protocols/index.js'
import type {
  CommandResult,
  Protocol,
  ProtocolEvent,
  ProtocolFactory,
  ProtocolSession,
  Readings,
} from './protocols/types.js'
import { RealtimeReports } from './realtime-reports.js'
import { Reconnector } from './reconnect.js'
import { elapsed, type InFlight, isReplyEvent, ReplyTracker } from './reply-tracker.js'
import { validateCommand } from './schemas.js'
import { transports as transportRegistry } from './transports/index.js'
import type { Transport, TransportError, TransportFactory } from './transports/types.js'
import type { ConnectionListener, DeviceStatus, LogDirection } from './types.js'

export interface DeviceConnectionOptions {
  /** Used in messages (the device id or name). */
  label: string
  target: ConnectionTarget
  configuration?: unknown
  listener?: ConnectionListener
  transports?: Record<string, TransportFactory>
  protocols?: Record<string, ProtocolFactory>
}

export class DeviceConnection {
  readonly label: string
  readonly target: ConnectionTarget
  readonly config: ResolvedConfiguration
  private readonly listener: ConnectionListener
  private readonly transportFactory: TransportFactory
  private readonly protocolFactory: ProtocolFactory

  private currentStatus: DeviceStatus = 'disconnected'
  private currentError: string | null = null
  private firmware: string | null = null
  private readings: Readings = {}

  private transport: Transport | null = null
  private protocol: Protocol | null = null
  private parser: ReadlineParser | null = null
  /** Bumped on every open and close; events from an older link are ignored. */
  private generation = 0
  private isOpen = false
  private isAlarmed = false
  private isRemoteOffline = false

  private readonly queue = new CommandQueue()
  private readonly replies: ReplyTracker
  private readonly reports: RealtimeReports
  private readonly reconnect: Reconnector
  private readonly lineTaps = new Set<LineTap>()
  private readonly closeTaps = new Set<(reason: Error) => void>()
  private stopPolling: (() => void) | null = null

  constructor(options: DeviceConnectionOptions) {
    this.label = options.label
    this.target = options.target
    const transportFactory = (options.transports ?? transportRegistry)[options.target.scheme]
    if (!transportFactory) throw new ValidationError(`no transport for scheme ${options.target.scheme}`)
    this.transportFactory = transportFactory
    this.config = resolveConfiguration(options.configuration, defaultProtocolFor(options.target))
    const protocolName = transportFactory.protocol ?? this.config.protocol
    const protocolFactory = (options.protocols ?? protocolRegistry)[protocolName]
    if (!protocolFactory) throw new ValidationError(`unknown protocol ${protocolName}`)
    this.protocolFactory = protocolFactory
    this.listener = options.listener ?? {}
    const self = this
    this.replies = new ReplyTracker({
      label: this.label,
      config: this.config,
      get protocol() {
        return self.protocol
      },
      get transport() {
        return self.transport
      },
      notConnected: () => this.notConnected(),
      writeRaw: (data, quiet) => this.writeRaw(data, quiet),
      log: (direction, line) => this.log(direction, line),
      warn: (message) => this.warn(message),
    })
    this.reports = new RealtimeReports(this.label)
    this.reconnect = new Reconnector(
      {
        get isOpen() {
          return self.isOpen
        },
        open: () => this.open(),
        reopened: () => this.log('info', 'reconnected'),
      },
      this.config,
    )
  }

  get status(): DeviceStatus {
    return this.currentStatus
  }

  get lastError(): string | null {
    return this.currentError
  }

  get firmwareVersion(): string | null {
    return this.firmware
  }

  /** A copy of the current readings. */
  get telemetry(): Readings {
    return { ...this.readings }
  }

  /** The protocol of the open link (null when closed). */
  get activeProtocol(): Protocol | null {
    return this.protocol
  }

  /**
   * Opens the link and runs the firmware handshake. Rejects with
   * DeviceOpenError (OS code and reason) or the handshake's error, leaving the
   * status `error`. With `keepTrying`, a failure schedules reconnects instead
   * of giving up (used when reopening devices after a server restart).
   */
  connect(options: { keepTrying?: boolean } = {}): Promise<void> {
    this.reconnect.want()
    if (this.isOpen) return Promise.resolve()
    const pending = this.reconnect.connecting
    if (pending) return pending
    this.setStatus('connecting', null)
    return this.reconnect.open(options.keepTrying ?? false, (err) => this.setStatus('error', err.message))
  }

  /** Closes the link and stops reconnecting; idempotent. Commands in flight reject with `canceled`. */
  async disconnect(): Promise<void> {
    const pending = this.reconnect.stop()
    await this.teardown(new DeviceCommandError(`device ${this.label} was disconnected`, { canceled: true }))
    if (pending) await pending.catch(() => {})
    this.setStatus('disconnected', null)
  }

  /** Same as disconnect(); the name long-lived pieces share. */
  stop(): Promise<void> {
    return this.disconnect()
  }

  /** Whether `text` is a real-time command of this device's protocol. */
  isRealtime(text: string): boolean {
    return (this.protocol ?? this.protocolFactory(this.config)).realtime?.(text) != null
  }

  /**
   * Sends one command and resolves when the firmware completes it. Real-time
   * commands go out at once; everything else waits its turn in the queue.
   */
  async command(text: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    validateCommand(text, options.timeoutMs)
    if (this.currentStatus !== 'connected' && !(this.isOpen && this.isAlarmed)) {
      throw this.notConnected()
    }
    const timeoutMs = options.timeoutMs ?? this.config.commandTimeoutMs
    const realtime = this.protocol?.realtime?.(text) ?? null
    if (realtime) return this.sendRealtime(text, realtime.bytes, realtime.awaitsReport, timeoutMs)
    return this.queue.enqueue(() => this.replies.runInStep(text, { timeoutMs }))
  }

  /** Holds the queue for `work` (file streaming); queued commands wait, real-time ones do not. */
  exclusive<T>(work: (session: ExclusiveSession) => Promise<T>): Promise<T> {
    if (!this.isOpen || !this.protocol) return Promise.reject(this.notConnected())
    const protocol = this.protocol
    return this.queue.enqueue(async () => {
      // A streamer counts completions from its first line: get in step before it starts.
      await this.replies.ensureInStep(this.config.commandTimeoutMs)
      return exclusiveSession(
        {
          protocol,
          queue: this.queue,
          lineTaps: this.lineTaps,
          closeTaps: this.closeTaps,
          command: (text, options) => this.replies.runInStep(text, options ?? {}),
          writeRaw: (data, quiet) => this.writeRaw(data, quiet),
          log: (line) => this.log('out', line),
        },
        work,
      )
    })
  }

  // ---- link lifecycle -------------------------------------------------------

  private async open(): Promise<void> {
    const generation = ++this.generation
    const transport = this.transportFactory.create(this.target, this.config)
    const protocol = this.protocolFactory(this.config)
    const parser = new ReadlineParser({ delimiter: '\n', encoding: 'latin1' })
    parser.on('data', (line: string) => {
      if (generation === this.generation) this.onLine(line.replace(/\r$/, ''))
    })
    transport.onData((chunk) => {
      if (generation !== this.generation) return
      this.listener.traffic?.(new Date())
      parser.write(chunk)
    })
    transport.onClose((err) => this.onDrop(generation, err))
    try {
      await transport.open()
    } catch (err) {
      const e = err as TransportError
      throw new DeviceOpenError(describeTarget(this.target), e.code ?? 'EIO', e.message, err)
    }
    if (generation !== this.generation) {
      // disconnect() ran while the port was opening.
      await transport.close()
      throw this.disconnectedWhileConnecting()
    }
    this.transport = transport
    this.protocol = protocol
    this.parser = parser
    this.isOpen = true
    this.isAlarmed = false
    this.isRemoteOffline = false
    this.replies.linkOpened()
    try {
      await protocol.handshake?.(this.session())
    } catch (err) {
      await this.teardown(new DeviceCommandError('handshake failed', { canceled: true }, err))
      throw err
    }
    if (generation !== this.generation) throw this.disconnectedWhileConnecting()
    this.setStatus(
      this.isRemoteOffline ? 'connecting' : 'connected',
      this.isRemoteOffline ? 'the device reports it is offline' : null,
    )
    this.stopPolling = protocol.start?.(this.session()) ?? null
  }

  /** Closes the current link (if any) and fails everything waiting on it. */
  private async teardown(reason: Error): Promise<void> {
    this.generation++
    this.stopPolling?.()
    this.stopPolling = null
    const transport = this.transport
    this.transport = null
    this.protocol = null
    this.parser?.removeAllListeners()
    this.parser = null
    this.isOpen = false
    for (const tap of [...this.closeTaps]) tap(reason)
    this.replies.failAll(reason)
    this.queue.rejectAll(reason)
    this.reports.rejectAll(reason)
    await transport?.close()
  }

  private onDrop(generation: number, err?: TransportError): void {
    if (generation !== this.generation) return
    const reason = err?.message ?? 'the link closed'
    void this.teardown(
      new DeviceCommandError(`device ${this.label} disconnected: ${reason}`, { disconnected: true }, err),
    )
    const retrying = this.reconnect.dropped()
    this.log('info', `connection lost: ${reason}${retrying ? '; reconnecting' : ''}`)
    this.setStatus('error', `connection lost: ${reason}`)
  }

  /** What the protocol's handshake and polls use: the queue, and real-time writes. */
  private session(): ProtocolSession {
    return {
      config: this.config,
      command: (text, options) => {
        if (!this.isOpen) return Promise.reject(this.notConnected())
        return this.queue.enqueue(() => this.replies.runInStep(text, options ?? {}))
      },
      writeRealtime: (data, options) => this.writeRaw(data, options?.quiet ?? false),
    }
  }

  // ---- writes ----------------------------------------------------------------

  private async sendRealtime(
    text: string,
    bytes: Buffer,
    awaitsReport: boolean,
    timeoutMs: number,
  ): Promise<CommandResult> {
    const startedAt = performance.now()
    const report = awaitsReport ? this.reports.next(text, timeoutMs) : null
    try {
      await this.writeRaw(bytes, false)
    } catch (err) {
      report?.catch(() => {})
      throw err
    }
    const response = report ? [await report] : []
    return { ok: true, message: 'ok', response, durationMs: elapsed(startedAt) }
  }

  private async writeRaw(data: Buffer, quiet: boolean): Promise<void> {
    const transport = this.transport
    if (!transport) throw this.notConnected()
    if (!quiet) this.log('out', printable(data))
    try {
      await transport.write(data)
    } catch (err) {
      const e = err as TransportError
      throw new DeviceCommandError(
        `could not write to device ${this.label}: ${e.message}`,
        { disconnected: true },
        err,
      )
    }
  }

  // ---- inbound --------------------------------------------------------------

  private onLine(line: string): void {
    const protocol = this.protocol
    if (!protocol) return
    const inFlight = this.replies.current
    const read = protocol.onLine(line, inFlight?.text ?? null)
    const isReportOnly = read.length > 0 && read.every((e) => e.kind === 'telemetry' && e.report)
    const isHeard = line.trim() !== '' && !isReportOnly
    const { events, lateAfter, isQuiet } = this.replies.screen(line, read, inFlight, isHeard)
    if (isHeard) {
      if (lateAfter !== null) this.log('info', `late reply to "${lateAfter}": ${line}`)
      else if (!isQuiet) this.log('in', line)
    }
    if (isReportOnly) this.reports.answer(line)
    for (const event of events) this.apply(event, line, inFlight)
    for (const tap of this.lineTaps) tap(line, events)
  }

  /** Reply events go to the tracker; what a line says about the device is applied here. */
  private apply(event: ProtocolEvent, line: string, inFlight: InFlight | null): void {
    if (isReplyEvent(event)) {
      this.replies.apply(event, line, inFlight)
      return
    }
    switch (event.kind) {
      case 'telemetry':
        this.readings = { ...this.readings, ...event.readings }
        this.listener.telemetry?.({ ...this.readings }, new Date())
        return
      case 'firmware':
        if (this.firmware === event.version) return
        this.firmware = event.version
        this.listener.firmwareVersion?.(event.version)
        return
      case 'alarm':
        this.isAlarmed = true
        this.replies.alarmed(event.message, line, inFlight)
        if (this.isOpen) this.setStatus('error', event.message)
        return
      case 'alarm-cleared':
        this.isAlarmed = false
        if (this.isOpen && this.currentStatus === 'error') this.setStatus('connected', null)
        return
      case 'presence':
        this.isRemoteOffline = !event.online
        if (!this.isOpen || this.reconnect.connecting) return
        if (event.online) this.setStatus('connected', null)
        else this.setStatus('connecting', 'the device reports it is offline')
        return
      case 'consumed':
        return
    }
  }

  // ---- helpers --------------------------------------------------------------

  private notConnected(): DeviceNotConnectedError {
    return new DeviceNotConnectedError(this.label, this.currentStatus)
  }

  private disconnectedWhileConnecting(): DeviceCommandError {
    return new DeviceCommandError(`device ${this.label} was disconnected while connecting`, {
      canceled: true,
    })
  }

  private setStatus(status: DeviceStatus, lastError: string | null): void {
    if (status === this.currentStatus && lastError === this.currentError) return
    this.currentStatus = status
    this.currentError = lastError
    this.listener.status?.(status, lastError)
  }

  private log(direction: LogDirection, line: string): void {
    this.listener.log?.(direction, line, new Date())
  }

  /** To the operator's log (the service's logger) and the device's log feed. */
  private warn(message: string): void {
    this.log('info', `warning: ${message}`)
    this.listener.warning?.(message)
  }
}

function printable(data: Buffer): string {
  return [...data]
    .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `<0x${b.toString(16).padStart(2, '0')}>`))
    .join('')
}
