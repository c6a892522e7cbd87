// One actor per connected device. It owns the transport, frames inbound bytes
// into lines, lets the protocol classify them, and serialises commands through
// a queue so bytes of two commands never interleave on the wire. Real-time
// commands (GRBL `?` `!` `~` Ctrl-X) bypass the queue. An unexpected drop is
// reported once and, while the device is meant to be connected, reopened with
// backoff. The pieces, one concern each: reconnect.ts (whether and when to
// reopen), command-queue.ts (the queue), reply-tracker.ts, resync.ts and
// reply-sync.ts (which reply belongs to which command), realtime-reports.ts
// (queries that a report line answers), device-state.ts (what the device is
// and what the owner hears), exclusive.ts (a file stream holding the queue).
// This file opens and closes the link and hands each line to them.

import { performance } from 'node:perf_hooks'
import { ValidationError } from '../../errors.js'
import { AvailabilityWatch } from './availability.js'
import { CommandQueue } from './command-queue.js'
import { defaultProtocolFor, type ResolvedConfiguration, resolveConfiguration } from './configuration.js'
import { type ConnectionTarget, describeTarget } from './connection-string.js'
import { DeviceState } from './device-state.js'
import { DeviceCommandError, DeviceNotConnectedError, DeviceOpenError } from './errors.js'
import { type ExclusiveSession, exclusiveSession, type LineTap } from './exclusive.js'
import { LineSplitter } from './line-splitter.js'
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
import { type Transport, TransportError, type TransportFactory } from './transports/types.js'
import type { ConnectionListener, DeviceStatus } from './types.js'

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
  private readonly state: DeviceState
  private readonly transportFactory: TransportFactory
  private readonly protocolFactory: ProtocolFactory

  private transport: Transport | null = null
  private protocol: Protocol | null = null
  private parser: LineSplitter | null = null
  /** Bumped on every open and close; events from an older link are ignored. */
  private generation = 0
  private isOpen = false

  private readonly queue = new CommandQueue()
  private readonly replies: ReplyTracker
  private readonly reports: RealtimeReports
  private readonly reconnect: Reconnector
  private readonly availability: AvailabilityWatch
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
    this.state = new DeviceState(options.listener ?? {})
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
      log: (direction, line) => this.state.log(direction, line),
      warn: (message) => this.state.warn(message),
    })
    this.reports = new RealtimeReports(this.label)
    this.availability = new AvailabilityWatch(this.config.availabilityTimeoutMs, (silentForMs) =>
      this.state.setStale(true, `no traffic for ${silentForMs} ms`),
    )
    this.reconnect = new Reconnector(
      {
        get isOpen() {
          return self.isOpen
        },
        open: () => this.open(),
        reopened: () => this.state.log('info', 'reconnected'),
      },
      this.config,
    )
  }

  get status(): DeviceStatus {
    return this.state.status
  }

  get lastError(): string | null {
    return this.state.lastError
  }

  /** Connected but offline: silent past `availabilityTimeoutMs`, or the device said so (MQTT). */
  get stale(): boolean {
    return this.state.stale
  }

  get firmwareVersion(): string | null {
    return this.state.firmwareVersion
  }

  /** A copy of the current readings. */
  get telemetry(): Readings {
    return this.state.telemetry
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
    this.state.setStatus('connecting', null)
    return this.reconnect.open(options.keepTrying ?? false, (err) =>
      this.state.setStatus('error', err.message),
    )
  }

  /** Closes the link and stops reconnecting; idempotent. Commands in flight reject with `canceled`. */
  async disconnect(): Promise<void> {
    const pending = this.reconnect.stop()
    await this.teardown(new DeviceCommandError(`device ${this.label} was disconnected`, { canceled: true }))
    if (pending) await pending.catch(() => {})
    this.state.setStatus('disconnected', null)
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
    if (this.state.status !== 'connected' && !(this.isOpen && this.state.isAlarmed)) {
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
          log: (line) => this.state.log('out', line),
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
    const parser = new LineSplitter((line) => {
      if (generation === this.generation) this.onLine(line.replace(/\r$/, ''))
    })
    transport.onData((chunk) => {
      if (generation !== this.generation) return
      this.availability.heard()
      this.state.traffic()
      try {
        parser.push(chunk)
      } catch (err) {
        // A fault in handling what the device sent (a protocol's parser, a listener) must not end
        // the server, nor leave the link half read: it drops, with the fault as the reason, as if
        // the device had gone (a transfer ends interrupted with its checkpoint).
        const message = `handling the device's output failed: ${(err as Error)?.message ?? String(err)}`
        this.onDrop(generation, new TransportError(message, 'EPROTO', { disconnected: true }, err))
      }
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
    this.state.linkOpened()
    this.replies.linkOpened()
    try {
      await protocol.handshake?.(this.session())
    } catch (err) {
      await this.teardown(new DeviceCommandError('handshake failed', { canceled: true }, err))
      throw err
    }
    if (generation !== this.generation) throw this.disconnectedWhileConnecting()
    this.state.handshakeDone()
    // From here the device is expected to talk (its polls, reports or answers); silence means offline.
    this.availability.start()
    this.stopPolling = protocol.start?.(this.session()) ?? null
  }

  /** Closes the current link (if any) and fails everything waiting on it. */
  private async teardown(reason: Error): Promise<void> {
    this.generation++
    this.stopPolling?.()
    this.stopPolling = null
    this.availability.stop()
    this.state.linkClosed()
    const transport = this.transport
    this.transport = null
    this.protocol = null
    this.parser?.stop()
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
    this.state.log('info', `connection lost: ${reason}${retrying ? '; reconnecting' : ''}`)
    this.state.setStatus('error', `connection lost: ${reason}`)
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
    if (!quiet) this.state.log('out', printable(data))
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
      if (lateAfter !== null) this.state.log('info', `late reply to "${lateAfter}": ${line}`)
      else if (!isQuiet) this.state.log('in', line)
    }
    if (isReportOnly) this.reports.answer(line)
    for (const event of events) this.apply(event, line, inFlight)
    for (const tap of this.lineTaps) tap(line, events)
  }

  /** Reply events go to the tracker; what a line says about the device, to the device's state. */
  private apply(event: ProtocolEvent, line: string, inFlight: InFlight | null): void {
    if (isReplyEvent(event)) {
      this.replies.apply(event, line, inFlight)
      return
    }
    if (event.kind === 'consumed') return
    // An alarm ends the command in flight with `ok: false`, and puts the device in error.
    if (event.kind === 'alarm') this.replies.alarmed(event.message, line, inFlight)
    this.state.apply(event, { isOpen: this.isOpen, isConnecting: this.reconnect.connecting !== null })
  }

  // ---- helpers --------------------------------------------------------------

  private notConnected(): DeviceNotConnectedError {
    return new DeviceNotConnectedError(this.label, this.state.status)
  }

  private disconnectedWhileConnecting(): DeviceCommandError {
    return new DeviceCommandError(`device ${this.label} was disconnected while connecting`, {
      canceled: true,
    })
  }
}

function printable(data: Buffer): string {
  return [...data]
    .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `<0x${b.toString(16).padStart(2, '0')}>`))
    .join('')
}
