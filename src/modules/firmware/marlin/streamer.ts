// G-code to Marlin, the way printcore and OctoPrint stream it: one line in
// flight, each acknowledged with `ok` before the next. The connection frames
// each line as `N<n> <cmd>*<checksum>` (its protocol owns the numbering, so
// commands sent between lines keep the sequence) and answers `Resend: N` from
// its history; `busy:` keepalives extend the line's timeout there too.
// Commands that queue up behind the stream (an operator's M105, the
// temperature poll) go out between two lines. A reset banner or a halt stops
// the stream after the line in flight: a restarted printer has lost its
// temperatures and position, so nothing more of the file may reach it.

import { TransferError } from '../../device-files/errors.js'
import type { LineSource } from '../../device-files/streamers/source.js'
import {
  newProgress,
  type StreamControl,
  type Streamer,
  type StreamerOptions,
  type StreamOutcome,
  type StreamSession,
  type TransferProgress,
} from '../../device-files/streamers/types.js'
import type { PreparedLine } from '../gcode.js'

// Commands that may run for minutes before their `ok` (heating, homing,
// probing, dwell, waiting for moves, filament change).
const LONG_RUNNING = /^(?:G28|G29|G4|G76|M109|M190|M191|M303|M400|M600|M0|M1|M116|G34|G35)\b/i

export class MarlinStreamer implements Streamer {
  readonly progress: TransferProgress
  /** Sent but not yet acknowledged when the last run stopped (never, for a clean stop). */
  private pending: PreparedLine | null = null

  constructor(
    private readonly source: LineSource,
    totalLines: number,
    totalBytes: number,
    private readonly options: StreamerOptions,
  ) {
    this.progress = newProgress(totalLines, totalBytes)
  }

  async run(session: StreamSession, control: StreamControl): Promise<StreamOutcome> {
    let stopped: TransferError | null = null
    const offLine = session.onLine((_line, events) => {
      for (const e of events) {
        if (e.kind === 'resend') this.progress.resends++
        else if (e.kind === 'reset' || e.kind === 'alarm') {
          const message = `the printer stopped the job: ${e.message ?? e.kind}`
          if (!stopped) this.progress.errors.push(message)
          stopped ??= new TransferError(message, { firmware: true, machineStopped: true })
        }
      }
    })
    try {
      for (;;) {
        if (stopped) throw stopped
        if (session.queuedCount > 0) await session.runQueued()
        if (control.shouldStop()) return 'stopped'
        const line = this.pending ?? (await this.source.next())
        if (line === null) return 'done'
        this.pending = line
        this.progress.linesSent++
        this.progress.bytesSent += line.text.length + 1
        let result: Awaited<ReturnType<StreamSession['command']>>
        try {
          result = await session.command(line.text, {
            timeoutMs: LONG_RUNNING.test(line.text)
              ? this.options.longCommandTimeoutMs
              : this.options.lineTimeoutMs,
            quiet: this.options.quiet,
          })
        } catch (err) {
          throw stopped ?? TransferError.from(err, `line ${line.line} "${line.text}" was not acknowledged`)
        }
        // A line answered `ok` across a reset was taken: it counts before the stop.
        if (!result.ok) {
          if (stopped) throw stopped
          throw new TransferError(`line ${line.line} "${line.text}" failed: ${result.message}`, {
            firmware: true,
          })
        }
        this.pending = null
        this.progress.linesAcknowledged++
        this.progress.bytesAcknowledged += line.text.length + 1
        this.progress.lastAcknowledged = { line: line.line, text: line.text }
        control.acknowledged(line)
        control.progressed()
      }
    } finally {
      offLine()
    }
  }

  close(): void {
    this.source.close()
  }
}
