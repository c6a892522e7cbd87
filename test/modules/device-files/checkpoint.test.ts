// When a transfer's checkpoint is written: every N acknowledged lines, never
// sooner than the interval after the last write (a due write waits for it and
// then carries the newest line), at once on saveNow, and never after stop().
// Real timers, short intervals.

import { describe, expect, it } from 'vitest'
import { CheckpointKeeper, type TransferCheckpoint } from '../../../src/modules/device-files/checkpoint.js'
import type { PreparedLine } from '../../../src/modules/firmware/gcode.js'
import { initialModalState } from '../../../src/modules/firmware/modal-state.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** The end of the event-loop turn, where the keeper reads what was acknowledged. */
const turn = () => new Promise((r) => setImmediate(r))

function keeper(everyLines: number, minIntervalMs: number) {
  const saved: TransferCheckpoint[] = []
  const k = new CheckpointKeeper(
    { lastAckedLine: 0, fileOffset: 0, modalState: initialModalState() },
    { everyLines, minIntervalMs },
    (checkpoint) => saved.push(checkpoint),
  )
  let offset = 0
  let n = 0
  const ack = (text: string) => {
    n++
    offset += text.length + 1
    const line: PreparedLine = { line: n, text, end: offset }
    k.acknowledged(line)
  }
  return { k, saved, ack }
}

describe('CheckpointKeeper', () => {
  it('writes every N lines with the modal state after the last one', async () => {
    const { saved, ack } = keeper(3, 0)
    ack('G21')
    ack('G90')
    await turn()
    expect(saved).toEqual([])
    ack('G1 X5 F300')
    await turn()
    expect(saved).toHaveLength(1)
    expect(saved[0]).toMatchObject({ lastAckedLine: 3, fileOffset: 4 + 4 + 11 })
    expect(saved[0]?.modalState).toMatchObject({ units: 'G21', distance: 'G90', x: 5, feed: 300 })
    for (const text of ['G1 X6', 'G1 X7', 'G1 X8']) ack(text)
    await turn()
    expect(saved.map((c) => c.lastAckedLine)).toEqual([3, 6])
    expect(saved[1]?.modalState.x).toBe(8)
  })

  it('holds a due write until the interval has passed, then writes the newest line', async () => {
    const { saved, ack } = keeper(2, 150)
    ack('G1 X1')
    ack('G1 X2')
    await turn()
    // The first write is never held (nothing was written before it).
    expect(saved.map((c) => c.lastAckedLine)).toEqual([2])
    ack('G1 X3')
    ack('G1 X4')
    await turn()
    expect(saved).toHaveLength(1)
    ack('G1 X5')
    await sleep(60)
    expect(saved).toHaveLength(1)
    // No further line is acknowledged: the held write still happens, carrying line 5.
    await sleep(150)
    expect(saved.map((c) => c.lastAckedLine)).toEqual([2, 5])
    expect(saved[1]?.modalState.x).toBe(5)
  })

  it('saveNow writes at once and restarts the count; stop() drops a held write', async () => {
    const { k, saved, ack } = keeper(2, 10_000)
    ack('G1 X1')
    expect(k.saveNow().lastAckedLine).toBe(1)
    ack('G1 X2')
    ack('G1 X3')
    await turn()
    // Due by lines, held by the interval.
    expect(saved).toHaveLength(1)
    k.stop()
    await sleep(50)
    expect(saved.map((c) => c.lastAckedLine)).toEqual([1])
    // What the final write of the job reads is still current.
    expect(k.current().lastAckedLine).toBe(3)
  })
})
