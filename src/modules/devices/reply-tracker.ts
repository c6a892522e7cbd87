// Which reply belongs to which command. One command is on the wire at a time
// (the queue sees to that); this tracks it from write to completion: its
// timeout (restarted by `busy`), the lines of its answer, a `Resend`, and the
// two events that break the pairing of replies to commands, a timeout and a
// firmware reset, each answered with a probe (reply-sync.ts describes how).
// The connection hands it every inbound line and every reply event; it never
// opens or closes anything.

import { performance } from 'node:perf_hooks'
import type { ResolvedConfiguration } from './configuration.js'
import { DeviceCommandError, DeviceTimeoutError } from './errors.js'
import type { CommandOptions, CommandResult, Protocol, ProtocolEvent } from './protocols/types.js'
import { ResetProbe } from './reply-sync.js'
import { type ProbeInFlight, Resync } from './resync.js'
import type { Transport, TransportError } from './transports/types.js'
import type { LogDirection } from './types.js'

/** What the tracker uses of its connection: the open link and the log. */
export interface TrackedLink {
  readonly label: string
  readonly config: ResolvedConfiguration
  /** Null while the link is closed. */
  readonly protocol: Protocol | null
  readonly transport: Transport | null
  /** The error for a command on a link that is not open. */
  notConnected(): Error
  writeRaw(data: Buffer, quiet: boolean): Promise<void>
  log(direction: LogDirection, line: string): void
  /** To the operator's log and the device's log feed. */
  warn(message: string): void
}

export interface InFlight {
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

/** A reply event (ok, fail, response, busy, resend, reset); the connection applies the rest. */
export type ReplyEvent = Extract<
  ProtocolEvent,
  { kind: 'ok' | 'fail' | 'response' | 'busy' | 'resend' | 'reset' }
>

export function isReplyEvent(event: ProtocolEvent): event is ReplyEvent {
  return (
    event.kind === 'ok' ||
    event.kind === 'fail' ||
    event.kind === 'response' ||
    event.kind === 'busy' ||
    event.kind === 'resend' ||
    event.kind === 'reset'
  )
}

export class ReplyTracker {
  private inFlight: InFlight | null = null
  private readonly resync: Resync

  constructor(private readonly link: TrackedLink) {
    this.resync = new Resync(link, (probe, timeoutMs) =>
      this.run(probe.command, { timeoutMs, quiet: true }, probe),
    )
  }

  /** The command on the wire, if any. */
  get current(): InFlight | null {
    return this.inFlight
  }

  /**
   * A new link starts in step: whatever the old one owed (a late reply, a
   * resync) went with it. Carrying it over made a replugged device resync
   * during its handshake, fail, and never reconnect.
   */
  linkOpened(): void {
    this.resync.owed = null
  }

  /** Fails the command in flight and a resync's wait with `reason` (the link closed). */
  failAll(reason: Error): void {
    this.resync.cancel(reason)
    this.inFlight?.settle({ error: reason })
  }

  /** Runs a command, after a resync probe if an earlier command timed out. */
  runInStep(text: string, options: CommandOptions): Promise<CommandResult> {
    // In step, the command goes out in this tick (no await): streaming and
    // tests rely on a write being on the wire when command() returns.
    if (this.resync.owed === null) return this.run(text, options)
    return this.resync
      .run(options.timeoutMs ?? this.link.config.commandTimeoutMs)
      .then(() => this.run(text, options))
  }

  /** Gets in step if a command timed out since the last time it was (a streamer counts from its first line). */
  async ensureInStep(timeoutMs: number): Promise<void> {
    if (this.resync.owed !== null) await this.resync.run(timeoutMs)
  }

  /**
   * What a line means for the command in flight. Returns the events with the
   * answers removed where the line is a late reply (`lateAfter` names the
   * command it belongs to), and whether it belongs to a quiet command (kept
   * out of the log feed).
   */
  screen(
    line: string,
    read: ProtocolEvent[],
    inFlight: InFlight | null,
    isHeard: boolean,
  ): { events: ProtocolEvent[]; lateAfter: string | null; isQuiet: boolean } {
    let events = read
    const probe = inFlight?.probe
    let lateAfter: string | null = null
    const draining = this.resync.draining
    if (draining) {
      // A resync fallback: everything until quiet is a late reply.
      if (isHeard) draining.window.activity()
      lateAfter = draining.after
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
    const isQuiet =
      inFlight?.quiet === true &&
      (probe !== undefined || events.some((e) => e.kind !== 'telemetry' || !e.report))
    return { events, lateAfter, isQuiet }
  }

  /** Applies a reply event of `line` to `inFlight` (the command on the wire when the line arrived). */
  apply(event: ReplyEvent, line: string, inFlight: InFlight | null): void {
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
        this.restartClock(inFlight)
        return
      case 'resend': {
        const lines = this.link.protocol?.resend?.(event.lineNumber) ?? []
        const wire = lines.length > 0 ? lines : inFlight ? [inFlight.wire] : []
        for (const text of wire) {
          this.link.log('out', text.replace(/\r?\n$/, ''))
          this.link.transport?.write(Buffer.from(text, 'latin1')).catch(() => {})
        }
        return
      }
      case 'reset':
        this.onFirmwareReset(event.message, inFlight)
        return
    }
  }

  /** An alarm ends the command in flight with `ok: false`. */
  alarmed(message: string, line: string, inFlight: InFlight | null): void {
    // A reset probe still owes its reply: the next command must not take it.
    if (inFlight?.afterReset) this.resync.owed ??= inFlight.afterReset.probe.command
    inFlight?.settle({
      result: {
        ok: false,
        message,
        response: [...inFlight.lines, line],
        durationMs: elapsed(inFlight.startedAt),
      },
    })
  }

  // ---- one command on the wire ----------------------------------------------

  private run(text: string, options: CommandOptions, probe?: ProbeInFlight): Promise<CommandResult> {
    const transport = this.link.transport
    const protocol = this.link.protocol
    if (!transport || !protocol) return Promise.reject(this.link.notConnected())
    const timeoutMs = options.timeoutMs ?? this.link.config.commandTimeoutMs
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
      if (!inFlight.quiet) this.link.log('out', wire.replace(/\r?\n$/, ''))
      this.writeFor(inFlight, transport, wire)
    })
  }

  /** Writes for the command in flight; a failed write settles it. */
  private writeFor(inFlight: InFlight, transport: Transport, wire: string): void {
    transport.write(Buffer.from(wire, 'latin1')).catch((err: TransportError) => {
      inFlight.settle({
        error: new DeviceCommandError(
          `could not write to device ${this.link.label}: ${err.message}`,
          { canceled: err.canceled, disconnected: !err.canceled },
          err,
        ),
      })
    })
  }

  private restartClock(inFlight: InFlight): void {
    clearTimeout(inFlight.timer)
    inFlight.timer = setTimeout(() => this.expire(inFlight), inFlight.timeoutMs)
  }

  /** The connection stays usable; the next queued command resyncs first (resync.ts). */
  private expire(inFlight: InFlight): void {
    if (this.inFlight !== inFlight) return
    const resetProbe = inFlight.afterReset?.probe.command
    const held = inFlight.afterReset?.heldResult
    // After a reset the probe was the last thing written: the next resync must
    // pick a probe whose marker that one's late reply cannot fake (GRBL: $I after $G).
    this.resync.owed ??= resetProbe ?? inFlight.text
    // The command answered after a reset; only the probe's completion is missing, and may come late.
    if (held) inFlight.settle({ result: held })
    else
      inFlight.settle({ error: new DeviceTimeoutError(this.link.label, inFlight.text, inFlight.timeoutMs) })
  }

  // ---- firmware resets -------------------------------------------------------

  /**
   * A banner mid-session: the firmware restarted and forgot what it had
   * queued. A command written just before it has an unknown outcome (flushed,
   * or taken just after the reset); it is decided by a probe written now
   * (see ResetProbe in reply-sync.ts) rather than reported lost.
   */
  private onFirmwareReset(message: string, inFlight: InFlight | null): void {
    this.link.log('info', message)
    const lost = (detail: string) => new DeviceCommandError(`${message}; ${detail}`, { reset: true })
    if (!inFlight) {
      // Nothing on the wire: no late reply of an earlier command can follow.
      this.resync.owed = null
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
      this.resync.owed = inFlight.text
      inFlight.settle(held ? { result: held } : { error: lost(`whether "${inFlight.text}" ran is unknown`) })
      return
    }
    this.resync.owed = null
    const protocol = this.link.protocol
    const transport = this.link.transport
    const spec = protocol?.syncProbe?.(inFlight.text)
    if (!spec || !protocol || !transport) {
      inFlight.settle({ error: lost('the command was lost') })
      return
    }
    inFlight.afterReset = new ResetProbe(spec)
    this.link.log(
      'info',
      `"${inFlight.text}" was on the wire at the reset; asking ${spec.command} whether it was taken`,
    )
    // The probe waits behind the command in the firmware: give both a full timeout.
    this.restartClock(inFlight)
    this.writeFor(inFlight, transport, protocol.encode(spec.command))
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
}

/** Keeps what a line says about telemetry, firmware and alarms, drops what would complete a command. */
function isNotAnAnswer(event: ProtocolEvent): boolean {
  return event.kind !== 'ok' && event.kind !== 'fail' && event.kind !== 'response'
}

export function elapsed(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 1000) / 1000
}
