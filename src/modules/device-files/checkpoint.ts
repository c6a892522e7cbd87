// Where a G-code transfer stands, kept as the firmware acknowledges lines: the
// last acknowledged line, the byte offset just past it, and the machine's
// modal state after it (firmware/modal-state.ts). Written to the job every N
// lines, but no sooner than minIntervalMs after the previous write, and
// whenever the transfer changes state: a killed server leaves a checkpoint at
// most N lines or minIntervalMs of streaming behind, whichever is more, and a
// restart can rebuild the machine's state from it. The interval bounds the
// database writes of a fast stream (a CNC file of short segments runs at
// thousands of lines a second, each write a commit) to a few a second per
// transfer; at a printer's pace N lines take longer than the interval anyway.
//
// Reading the modal state and writing the checkpoint wait for the end of the
// event-loop turn the acknowledgement arrived in: by then the streamer has
// sent its next line, so the work overlaps that line's trip to the firmware
// instead of delaying it. Anything that reads the checkpoint catches up first.

import { performance } from 'node:perf_hooks'
import type { PreparedLine } from '../firmware/gcode.js'
import { type ModalState, ModalStateTracker } from '../firmware/modal-state.js'

export interface TransferCheckpoint {
  /** The file line the firmware last acknowledged (0: none yet). */
  lastAckedLine: number
  /** Byte offset in the file just past that line. */
  fileOffset: number
  /** The machine's modal state after that line. */
  modalState: ModalState
  /** When it was taken (ISO-8601). */
  at: string
}

export interface CheckpointPolicy {
  /** Lines acknowledged between two writes. */
  everyLines: number
  /** The least time between two writes while streaming (state changes write at once). */
  minIntervalMs: number
}

export class CheckpointKeeper {
  private readonly tracker: ModalStateTracker
  private lastAckedLine: number
  private fileOffset: number
  private sinceSave = 0
  /** Acknowledged, not yet fed to the modal state. */
  private unread: PreparedLine[] = []
  private catchUpQueued: NodeJS.Immediate | null = null
  private savedAt = Number.NEGATIVE_INFINITY
  /** A save due by lines that waits for the interval. */
  private deferred: NodeJS.Timeout | null = null

  constructor(
    start: { lastAckedLine: number; fileOffset: number; modalState: ModalState },
    private readonly policy: CheckpointPolicy,
    private readonly save: (checkpoint: TransferCheckpoint) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tracker = new ModalStateTracker(start.modalState)
    this.lastAckedLine = start.lastAckedLine
    this.fileOffset = start.fileOffset
  }

  /** A file line acknowledged; preamble lines (line 0) are not the file's and change nothing. */
  acknowledged(line: PreparedLine): void {
    if (line.line <= 0) return
    this.unread.push(line)
    this.lastAckedLine = line.line
    this.fileOffset = line.end
    this.sinceSave++
    this.catchUpQueued ??= setImmediate(() => {
      this.catchUpQueued = null
      this.readUnread()
      this.saveIfDue()
    })
  }

  current(): TransferCheckpoint {
    this.readUnread()
    return {
      lastAckedLine: this.lastAckedLine,
      fileOffset: this.fileOffset,
      modalState: this.tracker.state,
      at: new Date().toISOString(),
    }
  }

  saveNow(): TransferCheckpoint {
    this.cancelDeferred()
    this.sinceSave = 0
    this.savedAt = this.now()
    const checkpoint = this.current()
    this.save(checkpoint)
    return checkpoint
  }

  /** The transfer ended (its final write carries the checkpoint): no save is left waiting. */
  stop(): void {
    this.cancelDeferred()
    if (this.catchUpQueued) clearImmediate(this.catchUpQueued)
    this.catchUpQueued = null
  }

  private saveIfDue(): void {
    if (this.sinceSave < this.policy.everyLines || this.deferred) return
    const waitMs = this.savedAt + this.policy.minIntervalMs - this.now()
    if (waitMs <= 0) {
      this.saveNow()
      return
    }
    // Saved even if no further line is acknowledged (a long homing or heating command next).
    this.deferred = setTimeout(() => {
      this.deferred = null
      this.saveNow()
    }, waitMs)
    this.deferred.unref()
  }

  private cancelDeferred(): void {
    if (this.deferred) clearTimeout(this.deferred)
    this.deferred = null
  }

  private readUnread(): void {
    if (this.unread.length === 0) return
    for (const line of this.unread) this.tracker.feed(line.text, line.line)
    this.unread = []
  }
}
