// G-code to Marlin, the way printcore and OctoPrint stream it: one line in
// flight, each acknowledged with `ok` before the next. The connection frames
// each line as `N<n> <cmd>*<checksum>` (its protocol owns the numbering, so
// commands sent between lines keep the sequence) and answers `Resend: N` from
// its history; `busy:` keepalives extend the line's timeout there too.
// Commands that queue up behind the stream (an operator's M105, the
// temperature poll) go out between two lines. A reset banner or a halt stops
// the stream after the line in flight: a restarted printer has lost its
// temperatures and position, so nothing more of the file may reach it.
// Each line waits for its `ok` as long as the device's command timeouts say
// (firmware/command-timeouts.ts). A stall (stall.ts): a line outstanding and
// no `ok`, `busy:` or temperature report for stallTimeoutMs asks `M105`, sent
// unnumbered and raw, whose `ok` also frees a line whose own `ok` was lost (as
// OctoPrint's timeout M105 does); a second quiet wait interrupts the job. A
// command named in the timeouts table (heating, homing) is never a stall.

import { TransferError } from '../../device-files/errors.js'
import { FileStreamer } from '../../device-files/streamers/file-streamer.js'
import type { LineSource } from '../../device-files/streamers/source.js'
import { StallWatch } from '../../device-files/streamers/stall.js'
import type { StreamControl, StreamOutcome, StreamSession } from '../../device-files/streamers/types.js'
import { CommandTimeouts } from '../command-timeouts.js'
import type { PreparedLine } from '../gcode.js'

/** Inbound events that show the printer is alive and working on the line. */
const ALIVE = new Set(['ok', 'busy', 'telemetry', 'resend'])

export class MarlinStreamer extends FileStreamer<LineSource> {
  /** Sent but not yet acknowledged when the last run stopped (never, for a clean stop). */
  private pending: PreparedLine | null = null

  async run(session: StreamSession, control: StreamControl): Promise<StreamOutcome> {
    let stopped: TransferError | null = null
    const timeouts = new CommandTimeouts(this.options.commandTimeouts, this.options.lineTimeoutMs)
    const stall = this.stallWatch(session, control)
    /** The line in flight may stall (it is not a long command of the table). */
    let isWatched = false
    /**
     * Acknowledged, its checkpoint and progress not yet recorded: that is done
     * once the next line is on the wire, so it never delays that line.
     */
    let acked: PreparedLine | null = null
    const recordAcked = () => {
      if (acked === null) return
      control.acknowledged(acked)
      control.progressed()
      acked = null
    }
    const offLine = session.onLine((_line, events) => {
      for (const e of events) {
        if (isWatched && ALIVE.has(e.kind)) stall?.watch.progressed()
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
        if (session.queuedCount > 0) {
          // Queued commands may take minutes (M600, M109): the checkpoint must not wait for them.
          recordAcked()
          await session.runQueued()
        }
        if (control.shouldStop()) return 'stopped'
        const line = this.pending ?? (await this.source.next())
        if (line === null) return 'done'
        this.pending = line
        this.progress.linesSent++
        this.progress.bytesSent += line.text.length + 1
        let result: Awaited<ReturnType<StreamSession['command']>>
        isWatched = stall !== null && !timeouts.isLong(line.text)
        if (isWatched) stall?.watch.progressed()
        try {
          const answer = session.command(line.text, {
            timeoutMs: timeouts.timeoutFor(line.text),
            quiet: this.options.quiet,
          })
          recordAcked()
          result = await (stall ? Promise.race([answer, stall.stalled]) : answer)
        } catch (err) {
          throw stopped ?? TransferError.from(err, `line ${line.line} "${line.text}" was not acknowledged`)
        } finally {
          isWatched = false
          stall?.watch.idle()
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
        acked = line
      }
    } finally {
      // However the stream ends, the checkpoint has every line the printer acknowledged.
      recordAcked()
      stall?.watch.idle()
      offLine()
    }
  }

  /** The stall watch of this run and a promise that rejects when the second wait runs out; null when off. */
  private stallWatch(session: StreamSession, control: StreamControl) {
    const stallMs = this.options.stallTimeoutMs
    if (stallMs === null) return null
    let fail!: (err: TransferError) => void
    const stalled = new Promise<never>((_resolve, reject) => {
      fail = reject
    })
    // Only ever awaited in a race with a line's answer; a run that never stalls leaves it pending.
    stalled.catch(() => {})
    const watch = new StallWatch(
      stallMs,
      () => {
        const message = `the printer answered nothing for ${stallMs} ms with a line in flight; sent M105`
        void session.write(Buffer.from('M105\n', 'latin1'), 'M105').catch(() => {})
        control.stalled(message)
      },
      () => {
        const message = `the stream stalled: nothing answered for two waits of ${stallMs} ms with a line in flight`
        this.progress.errors.push(message)
        fail(new TransferError(message, { timedOut: true }))
      },
    )
    return { watch, stalled }
  }
}
