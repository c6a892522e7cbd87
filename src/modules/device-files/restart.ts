// Restarting a transfer from a line: the plan shown before anything is sent
// (restart-preview) and followed by the restart. The file is read up to the
// line through the modal-state parser, and the preamble rebuilt from the state
// it leaves (firmware/preamble.ts). Stored files never change (they are
// content-addressed), so the state read now is the state the job had.

import { ValidationError } from '../../errors.js'
import type { PreparedLine } from '../firmware/gcode.js'
import { type ModalState, ModalStateTracker } from '../firmware/modal-state.js'
import { buildPreamble, type MachineKind, type Preamble } from '../firmware/preamble.js'
import type { BlobStore } from './blob-store.js'
import type { DeviceFile } from './repository.js'
import { GcodeFileSource } from './streamers/source.js'

/** Which machine a firmware drives: how its preamble moves back to the work. */
export const MACHINE_KINDS: Record<string, MachineKind> = { marlin: 'printer', grbl: 'cnc' }

/** Lines of the file shown after the preamble in a preview. */
const FIRST_LINES = 10

export interface RestartPlan {
  /** The first file line sent after the preamble. */
  fromLine: number
  machine: MachineKind
  /** The machine's state before fromLine. */
  modalState: ModalState
  preamble: Preamble
  /** File lines on the wire from fromLine to the end. */
  remainingLines: number
  /** The first of them. */
  firstLines: Array<{ line: number; text: string }>
  /** Where the restarted job starts: as if the lines before fromLine were acknowledged. */
  start: { lastAckedLine: number; fileOffset: number; modalState: ModalState }
}

export async function planRestart(
  store: BlobStore,
  file: DeviceFile,
  machine: MachineKind,
  fromLine: number,
): Promise<RestartPlan> {
  const source = new GcodeFileSource(store.open(file.sha256))
  const tracker = new ModalStateTracker()
  const first: PreparedLine[] = []
  let before = 0
  let offset = 0
  try {
    for (let line = await source.next(); line !== null; line = await source.next()) {
      if (line.line < fromLine) {
        tracker.feed(line.text, line.line)
        before++
        offset = line.end
        continue
      }
      first.push(line)
      if (first.length >= FIRST_LINES) break
    }
  } finally {
    source.close()
  }
  if (first.length === 0) {
    throw new ValidationError(`fromLine ${fromLine} is past the last G-code line of ${file.name}`, [
      { path: 'fromLine', message: `must be at or before the file's last G-code line, got ${fromLine}` },
    ])
  }
  const lastAckedLine = first[0]!.line - 1
  const modalState = { ...tracker.state, line: lastAckedLine }
  return {
    fromLine: first[0]!.line,
    machine,
    modalState,
    preamble: buildPreamble(modalState, { kind: machine }),
    remainingLines: (file.lineCount ?? 0) - before,
    firstLines: first.map((l) => ({ line: l.line, text: l.text })),
    start: { lastAckedLine, fileOffset: offset, modalState },
  }
}
