// G-code to GRBL with character counting: as many lines in flight as fit in
// the controller's receive buffer (the last field of `$I`'s OPT, 128 by
// default), each `ok` or `error:N` freeing the bytes of the oldest line. This
// keeps the planner fed so short segments and arcs do not stutter, which one
// line in flight cannot. An `error:N` stops the stream; the lines already in
// the buffer still answer and are waited for, so the job ends settled.
// Real-time bytes (`?` `!` `~` Ctrl-X) bypass the buffer and need no space.
// While the oldest line in the buffer is a command of the device's timeouts
// table (a dwell, homing), the wait is that command's and no stall is watched.

import { TransferError } from '../../device-files/errors.js'
import { FileStreamer } from '../../device-files/streamers/file-streamer.js'
import type { LineSource } from '../../device-files/streamers/source.js'
import { StallWatch } from '../../device-files/streamers/stall.js'
import type { StreamControl, StreamOutcome, StreamSession } from '../../device-files/streamers/types.js'
import { CommandTimeouts } from '../command-timeouts.js'
import type { PreparedLine } from '../gcode.js'
import { GRBL_DEFAULT_RX_BUFFER, GRBL_REALTIME } from './wire.js'

const GRBL_STATUS_QUERY = String.fromCharCode(GRBL_REALTIME.statusQuery)
/** Status report states in which GRBL is executing what it acknowledged. */
const BUSY_STATES = /^(?:Run|Jog|Home|Hold|Door)/

interface InFlightLine {
  line: PreparedLine
  timeoutMs: number
  /** A command of the timeouts table (a dwell, homing): its wait is never a stall. */
  isLong: boolean
}

export class GrblStreamer extends FileStreamer<LineSource> {
  /** Read from the file but not yet sent (it did not fit). */
  private peeked: PreparedLine | null = null
  private isSourceDone = false

  async run(session: StreamSession, control: StreamControl): Promise<StreamOutcome> {
    const rxBytes = session.protocol.rxBufferSize ?? GRBL_DEFAULT_RX_BUFFER
    /** In the controller's buffer, oldest first, with what its command word says (parsed once, read on every answer). */
    const inFlight: InFlightLine[] = []
    /**
     * Acknowledged since the loop last ran: their checkpoint and progress are
     * recorded after the next lines are written, so that work never delays them.
     */
    const acked: PreparedLine[] = []
    const recordAcked = () => {
      if (acked.length === 0) return
      for (const line of acked) control.acknowledged(line)
      acked.length = 0
      control.progressed()
    }
    const timeouts = new CommandTimeouts(this.options.commandTimeouts, this.options.lineTimeoutMs)
    /** GRBL is working on a command of the timeouts table: its own timeout governs, it is never a stall. */
    const isHeadLong = () => inFlight[0]?.isLong === true
    let inFlightBytes = 0
    let failure: TransferError | null = null
    let writeFailure: TransferError | null = null
    let isServingQueue = false
    let wake: (() => void) | null = null
    const signal = () => {
      const w = wake
      wake = null
      w?.()
    }

    // A stall: the first quiet wait asks for a status report (`?` needs no buffer space), the second ends the job.
    let stall: TransferError | null = null
    const stallMs = this.options.stallTimeoutMs
    const watch =
      stallMs === null
        ? null
        : new StallWatch(
            stallMs,
            () => {
              const message = `GRBL acknowledged nothing for ${stallMs} ms with ${inFlight.length} line(s) in flight; asked for its status`
              void session.write(Buffer.from(GRBL_STATUS_QUERY, 'latin1')).catch(() => {})
              control.stalled(message)
            },
            () => {
              const message = `the stream stalled: nothing acknowledged for two waits of ${stallMs} ms with ${inFlight.length} line(s) in flight`
              this.progress.errors.push(message)
              stall = new TransferError(message, { timedOut: true })
              signal()
            },
          )

    const acknowledge = (): PreparedLine | undefined => {
      const line = inFlight.shift()?.line
      if (!line) return undefined
      inFlightBytes -= line.text.length + 1
      if (inFlight.length > 0 && !isHeadLong()) watch?.progressed()
      else watch?.idle()
      return line
    }

    const offLine = session.onLine((_line, events) => {
      // Any inbound line (status reports included) shows the controller is alive.
      signal()
      if (isServingQueue) return
      for (const e of events) {
        // A machine in motion answers no ok until its planner has room: busy, not stalled.
        if (e.kind === 'telemetry' && BUSY_STATES.test(String(e.readings?.state ?? '')) && !isHeadLong()) {
          watch?.progressed()
        }
        if (e.kind === 'ok') {
          const line = acknowledge()
          if (!line) continue
          this.progress.linesAcknowledged++
          this.progress.bytesAcknowledged += line.text.length + 1
          this.progress.lastAcknowledged = { line: line.line, text: line.text }
          acked.push(line)
        } else if (e.kind === 'fail') {
          const line = acknowledge()
          const where = line ? `line ${line.line} "${line.text}"` : 'a line'
          const message = `${where} failed: ${e.message ?? 'error'}`
          this.progress.errors.push(message)
          failure ??= new TransferError(message, { firmware: true })
          recordAcked()
        } else if (e.kind === 'alarm' || e.kind === 'reset') {
          const message = `the controller stopped the job: ${e.message ?? e.kind}`
          this.progress.errors.push(message)
          // An alarm or reset flushes the buffer: nothing in flight will answer.
          inFlight.length = 0
          inFlightBytes = 0
          failure ??= new TransferError(message, { firmware: true, machineStopped: true })
        }
      }
    })
    const offClose = session.onClose((reason) => {
      inFlight.length = 0
      inFlightBytes = 0
      failure ??= TransferError.from(reason, 'the connection closed during the transfer')
      signal()
    })

    // Not awaited: the transport keeps writes in order, and waiting for one to
    // reach the OS before queueing more held the buffer short of full. A
    // failed write ends the stream at the next check.
    const writeBatch = (lines: readonly PreparedLine[]) => {
      const first = lines[0]
      if (first === undefined) return
      let text = ''
      for (const line of lines) text += `${line.text}\n`
      const logLines = this.options.quiet ? undefined : lines.map((line) => line.text)
      session.write(Buffer.from(text, 'latin1'), logLines).catch((err: unknown) => {
        writeFailure ??= failure ?? TransferError.from(err, `line ${first.line} could not be written`)
        signal()
      })
    }

    const waitForInbound = () =>
      new Promise<void>((resolve, reject) => {
        // Any line in the buffer may be the one GRBL is executing: the longest of their timeouts.
        let timeoutMs = 0
        for (const entry of inFlight) timeoutMs = Math.max(timeoutMs, entry.timeoutMs)
        const timer = setTimeout(() => {
          wake = null
          reject(
            new TransferError(
              `GRBL sent nothing for ${timeoutMs} ms with ${inFlight.length} line(s) unacknowledged`,
              { timedOut: true },
            ),
          )
        }, timeoutMs)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })

    try {
      for (;;) {
        // Fill the receive buffer, unless someone is waiting to send a command.
        // What fits goes out in one write: a write per line cost a system
        // call and a trip through the transport each.
        const batch: PreparedLine[] = []
        while (!failure && !writeFailure && !control.shouldStop() && session.queuedCount === 0) {
          const line = this.peeked ?? (this.isSourceDone ? null : await this.source.next())
          if (line === null) {
            this.isSourceDone = true
            break
          }
          const bytes = line.text.length + 1
          if (bytes > rxBytes) {
            writeBatch(batch)
            throw new TransferError(
              `line ${line.line} is ${bytes} bytes with its newline; GRBL's receive buffer holds ${rxBytes}`,
              { firmware: true },
            )
          }
          if (inFlightBytes + bytes > rxBytes) {
            this.peeked = line
            break
          }
          this.peeked = null
          inFlight.push({
            line,
            timeoutMs: timeouts.timeoutFor(line.text),
            isLong: timeouts.isLong(line.text),
          })
          inFlightBytes += bytes
          if (!isHeadLong()) watch?.sent()
          this.progress.linesSent++
          this.progress.bytesSent += bytes
          batch.push(line)
        }
        writeBatch(batch)
        recordAcked()
        if (writeFailure) throw writeFailure
        if (inFlight.length === 0) {
          if (failure) throw failure
          if (session.queuedCount > 0) {
            // The buffer is empty: a queued command's `ok` cannot be mistaken for a line's.
            isServingQueue = true
            try {
              await session.runQueued()
            } finally {
              isServingQueue = false
            }
            continue
          }
          if (this.isSourceDone && this.peeked === null) return 'done'
          if (control.shouldStop()) return 'stopped'
          continue
        }
        // After a failure the lines still buffered answer first; a silent controller keeps the first reason.
        await waitForInbound().catch((err) => {
          throw failure ?? err
        })
        if (writeFailure) throw writeFailure
        if (stall) throw stall
      }
    } finally {
      // However the stream ends, the checkpoint has every line the controller acknowledged.
      recordAcked()
      watch?.idle()
      offLine()
      offClose()
      wake = null
    }
  }
}
