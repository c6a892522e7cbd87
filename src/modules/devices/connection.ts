// One actor per connected device. It owns the transport, frames inbound bytes
// into lines, lets the protocol classify them, and serialises commands through
// a queue so bytes of two commands never interleave on the wire. Real-time
// commands (GRBL `?` `!` `~` Ctrl-X) bypass the queue. An unexpected drop is
// reported once and, while the device is meant to be connected, reopened with
// exponential backoff.

import { performance } from 'node:perf_hooks'
import { ReadlineParser } from '@serialport/parser-readline'
import { ValidationError } from '../../errors.js'
import { type ProtocolName, type ResolvedConfiguration, resolveConfiguration } from './configuration.js'
import { type ConnectionTarget, describeTarget } from './connection-string.js'
import { DeviceCommandError, DeviceNotConnectedError, DeviceOpenError, DeviceTimeoutError } from './errors.js'
import { protocols as protocolRegistry } from './protocols/index.js'
import type {
  CommandOptions,
  CommandResult,
  Protocol,
  ProtocolEvent,
  ProtocolFactory,
  ProtocolSession,
  Readings,
  SyncProbe,
} from './protocols/types.js'
import { QuietWindow, ResetProbe } from './reply-sync.js'
import { transports as transportRegistry } from './transports/index.js'
import type { Transport, TransportError, TransportFactory } from './transports/types.js'

export const DEVICE_STATUSES = ['disconnected', 'connecting', 'connected', 'error'] as const
export type DeviceStatus = (typeof DEVICE_STATUSES)[number]
export type LogDirection = 'in' | 'out' | 'info'

/** What the connection tells its owner; every method is optional. */
export interface ConnectionListener {
  status?(status: DeviceStatus, lastError: string | null): void
  /** The full current set of readings, not only what changed. */
  telemetry?(readings: Readings, at: Date): void
  log?(direction: LogDirection, line: string, at: Date): void
  firmwareVersion?(version: string): void
  /** Any inbound bytes (drives lastSeen). */
  traffic?(at: Date): void
  /** Something the operator should know that is not an error (a resync that could not confirm). */
  warning?(message: string): void
}

export interface DeviceConnectionOptions {
  /** Used in messages (the device id or name). */
  label: string
  target: ConnectionTarget
  configuration?: unknown
  listener?: ConnectionListener
  transports?: Record<string, TransportFactory>
  protocols?: Record<string, ProtocolFactory>
}

/** A command may be at most this long and one line: a newline would desynchronise acknowledgements. */
export const MAX_COMMAND_LENGTH = 1024
const MAX_TIMEOUT_MS = 3_600_000

interface InFlight {
  text: string
  wire: string
  lines: string[]
  timeoutMs: number
  quiet: boolean
  startedAt: number
  timer: NodeJS.Timeout
  /** Set when this command is a resync probe. */
  probe?: ProbeInFlight
  /** Set when a reset banner arrived while this command was in flight (see reply-sync.ts). */
  afterReset?: ResetProbe
  settle(outcome: { result?: CommandResult; error?: Error }): void
}

interface ProbeInFlight extends SyncProbe {
  /** The command that timed out, for the log. */
  after: string
  /** Whether the marker line arrived: completions before it are late replies. */
  seen: boolean
}

interface QueueItem {
  run(): Promise<unknown>
  resolve(value: unknown): void
  reject(err: Error): void
}

interface ReportWaiter {
  resolve(line: string): void
  reject(err: Error): void
  timer: NodeJS.Timeout
}

/** Lets a later feature (file streaming) hold the queue and drive the protocol directly. */
export interface ExclusiveSession {
  readonly protocol: Protocol
  command(text: string, options?: CommandOptions): Promise<CommandResult>
  writeRealtime(data: Buffer): Promise<void>
  /** Raw bytes for a streamer with several lines in flight (GRBL character counting); `logLine` goes to the log feed. */
  write(data: Buffer, logLine?: string): Promise<void>
  /** Every inbound line with the protocol's reading of it, while the session lasts. Returns the unsubscribe. */
  onLine(listener: (line: string, events: ProtocolEvent[]) => void): () => void
  /** Called if the link drops or is disconnected while the session lasts. Returns the unsubscribe. */
  onClose(listener: (reason: Error) => void): () => void
  /** Commands that queued up behind the session. */
  readonly queuedCount: number
  /** Runs the queued commands now, between two lines of a stream, and resolves when they are done. */
  runQueued(): Promise<void>
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

  private readonly queue: QueueItem[] = []
  private isDraining = false
  private inFlight: InFlight | null = null
  /** The first command that timed out since the reply stream was last known in step; null when in step. */
  private resyncAfter: string | null = null
  /** While a resync falls back: every line is a late reply until the firmware is quiet. */
  private draining: { after: string; window: QuietWindow } | null = null
  private readonly reportWaiters = new Set<ReportWaiter>()
  private readonly lineTaps = new Set<(line: string, events: ProtocolEvent[]) => void>()
  private readonly closeTaps = new Set<(reason: Error) => void>()

  private wantConnected = false
  private connecting: Promise<void> | null = null
  private reconnectTimer: NodeJS.Timeout | null = null
  private reconnectDelayMs: number
  private stopPolling: (() => void) | null = null

  constructor(options: DeviceConnectionOptions) {
    this.label = options.label
    this.target = options.target
    const transportFactory = (options.transports ?? transportRegistry)[options.target.scheme]
    if (!transportFactory) throw new ValidationError(`no transport for scheme ${options.target.scheme}`)
    this.transportFactory = transportFactory
    const defaultProtocol: ProtocolName = options.target.scheme === 'sim' ? options.target.firmware : 'line'
    this.config = resolveConfiguration(options.configuration, defaultProtocol)
    const protocolName = transportFactory.protocol ?? this.config.protocol
    const protocolFactory = (options.protocols ?? protocolRegistry)[protocolName]
    if (!protocolFactory) throw new ValidationError(`unknown protocol ${protocolName}`)
    this.protocolFactory = protocolFactory
    this.listener = options.listener ?? {}
    this.reconnectDelayMs = this.config.reconnectDelayMs
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
    this.wantConnected = true
    if (this.isOpen) return Promise.resolve()
    if (this.connecting) return this.connecting
    this.clearReconnect()
    this.setStatus('connecting', null)
    this.connecting = this.open()
      .then(() => {
        this.reconnectDelayMs = this.config.reconnectDelayMs
      })
      .catch((err: Error) => {
        this.setStatus('error', err.message)
        if (options.keepTrying && this.wantConnected && this.config.autoReconnect) this.scheduleReconnect()
        else this.wantConnected = false
        throw err
      })
      .finally(() => {
        this.connecting = null
      })
    return this.connecting
  }

  /** Closes the link and stops reconnecting; idempotent. Commands in flight reject with `canceled`. */
  async disconnect(): Promise<void> {
    this.wantConnected = false
    this.clearReconnect()
    const pending = this.connecting
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
    return this.protocolFactoryPreview().realtime?.(text) != null
  }

  /**
   * Sends one command and resolves when the firmware completes it. Real-time
   * commands go out at once; everything else waits its turn in the queue.
   */
  async command(text: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    validateCommand(text, options.timeoutMs)
    if (this.currentStatus !== 'connected' && !(this.isOpen && this.isAlarmed)) {
      throw new DeviceNotConnectedError(this.label, this.currentStatus)
    }
    const timeoutMs = options.timeoutMs ?? this.config.commandTimeoutMs
    const realtime = this.protocol?.realtime?.(text) ?? null
    if (realtime) return this.sendRealtime(text, realtime.bytes, realtime.awaitsReport, timeoutMs)
    return this.enqueue(() => this.runInStep(text, { timeoutMs }))
  }

  /** Holds the queue for `work` (file streaming); queued commands wait, real-time ones do not. */
  exclusive<T>(work: (session: ExclusiveSession) => Promise<T>): Promise<T> {
    if (!this.isOpen || !this.protocol) {
      return Promise.reject(new DeviceNotConnectedError(this.label, this.currentStatus))
    }
    const protocol = this.protocol
    return this.enqueue(async () => {
      // A streamer counts completions from its first line: get in step before it starts.
      if (this.resyncAfter !== null) await this.resync(this.config.commandTimeoutMs)
      const taps: (() => void)[] = []
      const tap = <T>(set: Set<T>, listener: T) => {
        set.add(listener)
        const off = () => set.delete(listener)
        taps.push(off)
        return off
      }
      const queue = this.queue
      try {
        return await work({
          protocol,
          command: (text, options) => this.runInStep(text, options ?? {}),
          writeRealtime: (data) => this.writeRaw(data, false),
          write: async (data, logLine) => {
            if (logLine !== undefined) this.log('out', logLine)
            await this.writeRaw(data, true)
          },
          onLine: (listener) => tap(this.lineTaps, listener),
          onClose: (listener) => tap(this.closeTaps, listener),
          get queuedCount() {
            return queue.length
          },
          runQueued: async () => {
            for (const item of queue.splice(0)) await item.run().then(item.resolve, item.reject)
          },
        })
      } finally {
        for (const off of taps) off()
      }
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
      throw new DeviceCommandError(`device ${this.label} was disconnected while connecting`, {
        canceled: true,
      })
    }
    this.transport = transport
    this.protocol = protocol
    this.parser = parser
    this.isOpen = true
    this.isAlarmed = false
    this.isRemoteOffline = false
    // A new link starts in step: whatever the old one owed (a late reply, a
    // resync) went with it. Carrying it over made a replugged device resync
    // during its handshake, fail, and never reconnect.
    this.resyncAfter = null
    try {
      await protocol.handshake?.(this.session())
    } catch (err) {
      await this.teardown(new DeviceCommandError('handshake failed', { canceled: true }, err))
      throw err
    }
    if (generation !== this.generation) {
      throw new DeviceCommandError(`device ${this.label} was disconnected while connecting`, {
        canceled: true,
      })
    }
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
    this.failAll(reason)
    await transport?.close()
  }

  private onDrop(generation: number, err?: TransportError): void {
    if (generation !== this.generation) return
    const reason = err?.message ?? 'the link closed'
    void this.teardown(
      new DeviceCommandError(`device ${this.label} disconnected: ${reason}`, { disconnected: true }, err),
    )
    const retrying = this.wantConnected && this.config.autoReconnect
    this.log('info', `connection lost: ${reason}${retrying ? '; reconnecting' : ''}`)
    this.setStatus('error', `connection lost: ${reason}`)
    if (retrying) this.scheduleReconnect()
    else this.wantConnected = false
  }

  private scheduleReconnect(): void {
    this.clearReconnect()
    const delay = this.reconnectDelayMs
    this.reconnectDelayMs = Math.min(delay * 2, this.config.reconnectMaxDelayMs)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      if (!this.wantConnected || this.isOpen || this.connecting) return
      // Retries keep the status as it is: a drop is reported when it happens
      // and when the device returns, not once per attempt.
      this.connecting = this.open()
        .then(() => {
          this.reconnectDelayMs = this.config.reconnectDelayMs
          this.log('info', 'reconnected')
        })
        .catch(() => {
          if (this.wantConnected) this.scheduleReconnect()
        })
        .finally(() => {
          this.connecting = null
        })
    }, delay)
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
  }

  // ---- queue and commands ---------------------------------------------------

  private session(): ProtocolSession {
    return {
      config: this.config,
      command: (text, options) => {
        if (!this.isOpen) return Promise.reject(new DeviceNotConnectedError(this.label, this.currentStatus))
        return this.enqueue(() => this.runInStep(text, options ?? {}))
      },
      writeRealtime: (data, options) => this.writeRaw(data, options?.quiet ?? false),
    }
  }

  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject })
      this.drain()
    })
  }

  private drain(): void {
    if (this.isDraining) return
    const item = this.queue.shift()
    if (!item) return
    this.isDraining = true
    item
      .run()
      .then(item.resolve, item.reject)
      .finally(() => {
        this.isDraining = false
        this.drain()
      })
  }

  /** Runs a queued command, after a resync probe if an earlier command timed out. */
  private runInStep(text: string, options: CommandOptions): Promise<CommandResult> {
    // In step, the command goes out in this tick (no await): streaming and
    // tests rely on a write being on the wire when command() returns.
    if (this.resyncAfter === null) return this.runCommand(text, options)
    return this.resync(options.timeoutMs ?? this.config.commandTimeoutMs).then(() =>
      this.runCommand(text, options),
    )
  }

  /**
   * After a timeout the timed-out command's completion may still come, and
   * without correlation ids it would complete the next command instead (every
   * later reply one behind). The protocol's probe finds the place again; when
   * it cannot confirm, the fallback below gets the link going anyway.
   */
  private async resync(timeoutMs: number): Promise<void> {
    const after = this.resyncAfter
    if (after === null) return
    const spec = this.protocol?.syncProbe?.(after)
    if (!spec) return
    const probe: ProbeInFlight = { ...spec, after, seen: false }
    this.log('info', `resynchronising after "${after}" timed out: ${probe.command}`)
    let failure: unknown = null
    try {
      const result = await this.runCommand(probe.command, { timeoutMs, quiet: true }, probe)
      if (!probe.seen) failure = new Error(`completed without its marker: ${result.message}`)
    } catch (err) {
      failure = err
    }
    // Cleared meanwhile (a new link, see open): there is nothing left to resync.
    if (this.resyncAfter === null) return
    if (!failure && probe.seen) {
      this.resyncAfter = null
      this.log('info', 'resynchronised')
      return
    }
    const flags = failure as { disconnected?: boolean; canceled?: boolean; message?: string }
    if (flags.disconnected || flags.canceled) throw failure
    await this.resyncFallback(after, spec, flags.message ?? String(failure), timeoutMs)
  }

  /**
   * The probe could not confirm where the replies stand (a firmware that
   * answers it with a bare `ok`, or one that reset meanwhile). Refusing every
   * later command would leave the link unusable, so: send the protocol's
   * fallback commands, take every line as a late reply until the firmware has
   * been quiet for `resyncQuietMs` (at most `limitMs`), and carry on with a
   * warning.
   */
  private async resyncFallback(
    after: string,
    spec: SyncProbe,
    reason: string,
    limitMs: number,
  ): Promise<void> {
    const protocol = this.protocol
    if (!protocol) throw new DeviceNotConnectedError(this.label, this.currentStatus)
    const steps = spec.fallback ?? []
    const quietMs = this.config.resyncQuietMs
    this.log(
      'info',
      `the probe "${spec.command}" could not confirm (${reason}); ${steps.length > 0 ? `sending ${steps.join(', ')}, then ` : ''}waiting for ${quietMs} ms of quiet`,
    )
    const window = new QuietWindow(quietMs, limitMs)
    this.draining = { after, window }
    let how: 'quiet' | 'limit'
    try {
      // Not awaited: a write a wedged port never completes must not hold the
      // link past the window's limit. A failed write ends the wait with its error.
      for (const text of steps) {
        this.writeRaw(Buffer.from(protocol.encode(text), 'latin1'), true).catch((err: Error) =>
          window.cancel(err),
        )
      }
      how = await window.settled
    } finally {
      if (this.draining?.window === window) this.draining = null
    }
    this.resyncAfter = null
    this.warn(
      `could not confirm that replies are in step after "${after}" timed out (${reason}); ` +
        (how === 'quiet'
          ? `carrying on after ${quietMs} ms of quiet`
          : `the firmware kept talking for ${limitMs} ms; carrying on`) +
        ': a reply that comes later still may be taken for the next command',
    )
  }

  private runCommand(text: string, options: CommandOptions, probe?: ProbeInFlight): Promise<CommandResult> {
    const transport = this.transport
    const protocol = this.protocol
    if (!transport || !protocol)
      return Promise.reject(new DeviceNotConnectedError(this.label, this.currentStatus))
    const timeoutMs = options.timeoutMs ?? this.config.commandTimeoutMs
    const wire = protocol.encode(text)
    return new Promise<CommandResult>((resolve, reject) => {
      const inFlight: InFlight = {
        text,
        wire,
        lines: [],
        timeoutMs,
        quiet: options.quiet ?? false,
        startedAt: performance.now(),
        probe,
        timer: setTimeout(() => this.expire(inFlight), timeoutMs),
        settle: ({ result, error }) => {
          if (this.inFlight !== inFlight) return
          clearTimeout(inFlight.timer)
          this.inFlight = null
          if (error) reject(error)
          else resolve(result!)
        },
      }
      this.inFlight = inFlight
      if (!inFlight.quiet) this.log('out', wire.replace(/\r?\n$/, ''))
      transport.write(Buffer.from(wire, 'latin1')).catch((err: TransportError) => {
        inFlight.settle({
          error: new DeviceCommandError(
            `could not write to device ${this.label}: ${err.message}`,
            { canceled: err.canceled, disconnected: !err.canceled },
            err,
          ),
        })
      })
    })
  }

  /** The connection stays usable; the next queued command resyncs first (see resync). */
  private expire(inFlight: InFlight): void {
    if (this.inFlight !== inFlight) return
    const resetProbe = inFlight.afterReset?.probe.command
    const held = inFlight.afterReset?.heldResult
    // After a reset the probe was the last thing written: the next resync must
    // pick a probe whose marker that one's late reply cannot fake (GRBL: $I after $G).
    this.resyncAfter ??= resetProbe ?? inFlight.text
    // The command answered after a reset; only the probe's completion is missing, and may come late.
    if (held) inFlight.settle({ result: held })
    else inFlight.settle({ error: new DeviceTimeoutError(this.label, inFlight.text, inFlight.timeoutMs) })
  }

  private async sendRealtime(
    text: string,
    bytes: Buffer,
    awaitsReport: boolean,
    timeoutMs: number,
  ): Promise<CommandResult> {
    const startedAt = performance.now()
    const report = awaitsReport ? this.nextReport(text, timeoutMs) : null
    try {
      await this.writeRaw(bytes, false)
    } catch (err) {
      report?.catch(() => {})
      throw err
    }
    const response = report ? [await report] : []
    return { ok: true, message: 'ok', response, durationMs: elapsed(startedAt) }
  }

  private nextReport(text: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const waiter: ReportWaiter = {
        resolve: (line) => {
          clearTimeout(waiter.timer)
          this.reportWaiters.delete(waiter)
          resolve(line)
        },
        reject: (err) => {
          clearTimeout(waiter.timer)
          this.reportWaiters.delete(waiter)
          reject(err)
        },
        timer: setTimeout(() => {
          this.reportWaiters.delete(waiter)
          reject(new DeviceTimeoutError(this.label, text, timeoutMs))
        }, timeoutMs),
      }
      this.reportWaiters.add(waiter)
    })
  }

  private async writeRaw(data: Buffer, quiet: boolean): Promise<void> {
    const transport = this.transport
    if (!transport) throw new DeviceNotConnectedError(this.label, this.currentStatus)
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

  private failAll(reason: Error): void {
    this.draining?.window.cancel(reason)
    for (const tap of [...this.closeTaps]) tap(reason)
    this.inFlight?.settle({ error: reason })
    for (const item of this.queue.splice(0)) item.reject(reason)
    // A real-time query waiting for its report must fail with the link, not wait forever.
    for (const waiter of [...this.reportWaiters]) waiter.reject(reason)
    this.reportWaiters.clear()
  }

  // ---- inbound --------------------------------------------------------------

  private onLine(line: string): void {
    const protocol = this.protocol
    if (!protocol) return
    const inFlight = this.inFlight
    let events = protocol.onLine(line, inFlight?.text ?? null)
    const isReportOnly = events.length > 0 && events.every((e) => e.kind === 'telemetry' && e.report)
    const probe = inFlight?.probe
    const isHeard = line.trim() !== '' && !isReportOnly
    let lateAfter: string | null = null
    if (this.draining) {
      // A resync fallback: everything until quiet is a late reply.
      if (isHeard) this.draining.window.activity()
      lateAfter = this.draining.after
      events = events.filter(isNotAnAnswer)
    } else if (probe && !probe.seen) {
      // Before the probe's marker, every line is the late reply of the command
      // that timed out: it completes nothing (the marker line neither).
      probe.seen = probe.isMarker(line)
      if (!probe.seen) lateAfter = probe.after
      events = events.filter(isNotAnAnswer)
    } else if (inFlight?.afterReset?.takeMarker(line)) {
      // The reset probe's marker starts the probe's own reply.
      events = events.filter(isNotAnAnswer)
    }
    const belongsToQuiet =
      inFlight?.quiet === true &&
      (probe !== undefined || events.some((e) => e.kind !== 'telemetry' || !e.report))
    if (isHeard) {
      if (lateAfter !== null) this.log('info', `late reply to "${lateAfter}": ${line}`)
      else if (!belongsToQuiet) this.log('in', line)
    }
    if (isReportOnly) for (const waiter of this.reportWaiters) waiter.resolve(line)
    for (const event of events) this.apply(event, line, inFlight)
    for (const tap of this.lineTaps) tap(line, events)
  }

  private apply(event: ProtocolEvent, line: string, inFlight: InFlight | null): void {
    switch (event.kind) {
      case 'ok':
      case 'fail': {
        if (!inFlight) return
        const response = event.response ?? [...inFlight.lines, line]
        const ok = event.kind === 'ok'
        const result = {
          ok,
          message: ok ? 'ok' : event.message,
          response,
          durationMs: elapsed(inFlight.startedAt),
        }
        if (inFlight.afterReset) this.completeAfterReset(inFlight, inFlight.afterReset, result)
        else inFlight.settle({ result })
        return
      }
      case 'response':
        if (inFlight?.afterReset && !inFlight.afterReset.wantsResponse) return
        inFlight?.lines.push(line)
        return
      case 'busy':
        if (!inFlight) return
        // The firmware is alive and working: restart the clock.
        clearTimeout(inFlight.timer)
        inFlight.timer = setTimeout(() => this.expire(inFlight), inFlight.timeoutMs)
        return
      case 'resend': {
        const lines = this.protocol?.resend?.(event.lineNumber) ?? []
        const wire = lines.length > 0 ? lines : inFlight ? [inFlight.wire] : []
        for (const text of wire) {
          this.log('out', text.replace(/\r?\n$/, ''))
          this.transport?.write(Buffer.from(text, 'latin1')).catch(() => {})
        }
        return
      }
      case 'telemetry':
        this.readings = { ...this.readings, ...event.readings }
        this.listener.telemetry?.({ ...this.readings }, new Date())
        return
      case 'firmware':
        if (this.firmware === event.version) return
        this.firmware = event.version
        this.listener.firmwareVersion?.(event.version)
        return
      case 'reset':
        this.onFirmwareReset(event.message, inFlight)
        return
      case 'alarm':
        this.isAlarmed = true
        // A reset probe still owes its reply: the next command must not take it.
        if (inFlight?.afterReset) this.resyncAfter ??= inFlight.afterReset.probe.command
        inFlight?.settle({
          result: {
            ok: false,
            message: event.message,
            response: [...inFlight.lines, line],
            durationMs: elapsed(inFlight.startedAt),
          },
        })
        if (this.isOpen) this.setStatus('error', event.message)
        return
      case 'alarm-cleared':
        this.isAlarmed = false
        if (this.isOpen && this.currentStatus === 'error') this.setStatus('connected', null)
        return
      case 'presence':
        this.isRemoteOffline = !event.online
        if (!this.isOpen || this.connecting) return
        if (event.online) this.setStatus('connected', null)
        else this.setStatus('connecting', 'the device reports it is offline')
        return
      case 'consumed':
        return
    }
  }

  // ---- firmware resets -------------------------------------------------------

  /**
   * A banner mid-session: the firmware restarted and forgot what it had
   * queued. A command written just before it has an unknown outcome (flushed,
   * or taken just after the reset); it is decided by a probe written now
   * (see ResetProbe in reply-sync.ts) rather than reported lost.
   */
  private onFirmwareReset(message: string, inFlight: InFlight | null): void {
    this.log('info', message)
    const lost = (detail: string) => new DeviceCommandError(`${message}; ${detail}`, { reset: true })
    if (!inFlight) {
      // Nothing on the wire: no late reply of an earlier command can follow.
      this.resyncAfter = null
      return
    }
    if (inFlight.probe) {
      // A resync probe that may or may not answer: the resync falls back to waiting for quiet.
      inFlight.settle({ error: lost('the resync probe may not be answered') })
      return
    }
    if (inFlight.afterReset) {
      // A second reset before the first one's probe answered: the command's own
      // completion (if it came) stands; anything still owed is drained before the next command.
      const held = inFlight.afterReset.heldResult
      this.resyncAfter = inFlight.text
      inFlight.settle(held ? { result: held } : { error: lost(`whether "${inFlight.text}" ran is unknown`) })
      return
    }
    this.resyncAfter = null
    const protocol = this.protocol
    const transport = this.transport
    const spec = protocol?.syncProbe?.(inFlight.text)
    if (!spec || !protocol || !transport) {
      inFlight.settle({ error: lost('the command was lost') })
      return
    }
    inFlight.afterReset = new ResetProbe(spec)
    this.log(
      'info',
      `"${inFlight.text}" was on the wire at the reset; asking ${spec.command} whether it was taken`,
    )
    // The probe waits behind the command in the firmware: give both a full timeout.
    clearTimeout(inFlight.timer)
    inFlight.timer = setTimeout(() => this.expire(inFlight), inFlight.timeoutMs)
    transport.write(Buffer.from(protocol.encode(spec.command), 'latin1')).catch((err: TransportError) => {
      inFlight.settle({
        error: new DeviceCommandError(
          `could not write to device ${this.label}: ${err.message}`,
          { canceled: err.canceled, disconnected: !err.canceled },
          err,
        ),
      })
    })
  }

  /** A completion while a reset probe is out: the command's own before the marker, the probe's after it. */
  private completeAfterReset(inFlight: InFlight, reset: ResetProbe, result: CommandResult): void {
    const outcome = reset.complete(result)
    if (outcome === null) return
    if (outcome !== 'lost') {
      inFlight.settle({ result: outcome })
      return
    }
    inFlight.settle({
      error: new DeviceCommandError(
        `the firmware reset before it took "${inFlight.text}" (its probe ${reset.probe.command} answered first); the command was lost`,
        { reset: true },
      ),
    })
  }

  // ---- helpers --------------------------------------------------------------

  private protocolFactoryPreview(): Protocol {
    return this.protocol ?? this.protocolFactory(this.config)
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

/** Keeps what a line says about telemetry, firmware and alarms, drops what would complete a command. */
function isNotAnAnswer(event: ProtocolEvent): boolean {
  return event.kind !== 'ok' && event.kind !== 'fail' && event.kind !== 'response'
}

function elapsed(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 1000) / 1000
}

function printable(data: Buffer): string {
  return [...data]
    .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `<0x${b.toString(16).padStart(2, '0')}>`))
    .join('')
}

export function validateCommand(text: unknown, timeoutMs: unknown): void {
  const errors = []
  if (typeof text !== 'string' || text.trim() === '') {
    errors.push({ path: 'command', message: 'command must be a non-empty string' })
  } else if (text.length > MAX_COMMAND_LENGTH) {
    errors.push({
      path: 'command',
      message: `command must be at most ${MAX_COMMAND_LENGTH} characters, got ${text.length}`,
    })
  } else if (/[\r\n]/.test(text)) {
    errors.push({ path: 'command', message: 'command must be a single line (no CR or LF)' })
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' ||
      !Number.isInteger(timeoutMs) ||
      timeoutMs < 1 ||
      timeoutMs > MAX_TIMEOUT_MS)
  ) {
    errors.push({
      path: 'timeoutMs',
      message: `timeoutMs must be an integer 1-${MAX_TIMEOUT_MS}, got ${JSON.stringify(timeoutMs)}`,
    })
  }
  if (errors.length > 0) throw new ValidationError(errors.map((e) => e.message).join('; '), errors)
}
