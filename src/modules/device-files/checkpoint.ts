// Where a G-code transfer stands, kept as the firmware acknowledges lines: the
// last acknowledged line, the byte offset just past it, and the machine's
// modal state after it (firmware/modal-state.ts). Written to the job every N
// lines and whenever the transfer changes state, so a killed server leaves a
// checkpoint at most N lines behind, and a restart can rebuild the machine's
// state from it.
//
// Reading the modal state and writing the checkpoint wait for the end of the
// event-loop turn the acknowledgement arrived in: by then the streamer has
// sent its next line, so the work overlaps that line's trip to the firmware
// instead of delaying it. Anything that reads the checkpoint catches up first.

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

export class CheckpointKeeper {
  private readonly tracker: ModalStateTracker
  private lastAckedLine: number
  private fileOffset: number
  private sinceSave = 0
  /** Acknowledged, not yet fed to the modal state. */
  private unread: PreparedLine[] = []
  private catchUpQueued: NodeJS.Immediate | null = null

  constructor(
    start: { lastAckedLine: number; fileOffset: number; modalState: ModalState },
    private readonly everyLines: number,
    private readonly save: (checkpoint: TransferCheckpoint) => void,
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
      if (this.sinceSave >= this.everyLines) this.saveNow()
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
    this.sinceSave = 0
    const checkpoint = this.current()
    this.save(checkpoint)
    return checkpoint
  }

  private readUnread(): void {
    if (this.unread.length === 0) return
    for (const line of this.unread) this.tracker.feed(line.text, line.line)
    this.unread = []
  }
}
