import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  initialModalState,
  lineWords,
  type ModalState,
  ModalStateTracker,
} from '../../../src/modules/firmware/modal-state.js'

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '../../fixtures/gcode', name), 'latin1').split(/\r\n|\r|\n/)

type Change = Partial<Omit<ModalState, 'coolant' | 'hotends'>> & {
  coolant?: Partial<ModalState['coolant']>
  hotends?: Record<string, number>
}

/**
 * Feeds the file line by line and compares the whole state after every line
 * with the expectation built from the hand-checked changes: a line missing
 * from `changes` must change nothing.
 */
function walk(lines: string[], changes: Record<number, Change>): void {
  const tracker = new ModalStateTracker()
  let expected: ModalState = initialModalState()
  lines.forEach((text, i) => {
    const n = i + 1
    tracker.feed(text)
    const c = changes[n] ?? {}
    expected = {
      ...expected,
      ...c,
      line: n,
      coolant: { ...expected.coolant, ...c.coolant },
      hotends: { ...expected.hotends, ...c.hotends },
    }
    expect(tracker.state, `after line ${n}: ${text}`).toEqual(expected)
  })
}

describe('G-code modal state', () => {
  it('reads words past comments, line numbers and checksums', () => {
    expect(lineWords('N12 G1 X103.9 Y96.1 E.27965*87')).toEqual([
      { letter: 'G', value: 1 },
      { letter: 'X', value: 103.9 },
      { letter: 'Y', value: 96.1 },
      { letter: 'E', value: 0.27965 },
    ])
    expect(lineWords('G1 X1 (inline) Y2 ; tail')).toEqual([
      { letter: 'G', value: 1 },
      { letter: 'X', value: 1 },
      { letter: 'Y', value: 2 },
    ])
    // Free text after M117 is not read as words (X1 here is a label).
    expect(lineWords('M117 Layer X1 of 3')).toEqual([{ letter: 'M', value: 117 }])
    expect(lineWords('%')).toEqual([])
  })

  it('follows a PrusaSlicer printer file line by line', () => {
    const lines = fixture('prusaslicer-cube.gcode')
    expect(lines.at(-1)).toBe('')
    walk(lines, {
      14: { distance: 'G90', extrusion: 'M82' },
      15: { extrusion: 'M83' },
      16: { hotends: { 0: 170 } },
      17: { bed: 60 },
      18: { bed: 60 },
      19: { hotends: { 0: 170 } },
      21: { motion: 'G1', z: 10, maxZ: 10, feed: 720 },
      22: { hotends: { 0: 215 } },
      24: { x: 0, y: -2, z: 0.3, feed: 3000 },
      25: { e: 0 },
      26: { x: 60, e: 9, feed: 1000 },
      27: { x: 100, e: 21.5 },
      28: { e: 0 },
      // G90 sets the extruder absolute too (Marlin 2.x), until the M83 after it.
      31: { extrusion: 'M82' },
      32: { extrusion: 'M83' },
      38: { e: -0.8, feed: 2100 },
      39: { z: 0.6, feed: 720 },
      40: { x: 95.563, y: 95.563, feed: 10800 },
      41: { z: 0.2, feed: 720 },
      42: { e: 0, feed: 2100 },
      45: { feed: 1200 },
      46: { x: 104.437, e: 0.31871 },
      47: { y: 104.437, e: 0.63742 },
      48: { x: 95.563, e: 0.95613 },
      49: { y: 95.623, e: 1.27269 },
      50: { fan: 102 },
      54: { e: 0.47269, feed: 2100 },
      55: { z: 0.4, feed: 720 },
      56: { x: 96.1, y: 96.1, feed: 10800 },
      57: { e: 1.27269, feed: 2100 },
      58: { x: 103.9, e: 1.55234 },
      59: { y: 103.9, e: 1.83199 },
      60: { fan: 255 },
      61: { x: 96.1, e: 2.11164 },
      62: { y: 96.16, e: 2.38914 },
      65: { e: 1.58914, feed: 2100 },
      66: { z: 0.6, feed: 720 },
      67: { x: 96.5, y: 96.5, feed: 10800 },
      68: { e: 2.38914, feed: 2100 },
      69: { feed: 1200 },
      70: { x: 103.5, e: 2.63914 },
      71: { hotends: { 0: 0 } },
      72: { bed: 0 },
      73: { fan: 0 },
      74: { z: 30.6, maxZ: 30.6, feed: 720 },
      75: { x: 0, y: 200, feed: 3600 },
    })
  })

  it('follows a Fusion 360 CNC file line by line, through a switch to inches and back', () => {
    walk(fixture('fusion-pocket.nc'), {
      15: { tool: 1 },
      16: { spindle: 'M3', spindleSpeed: 12000 },
      19: { coolant: { flood: true } },
      20: { motion: 'G0', x: 10, y: 10 },
      21: { z: 15, maxZ: 15 },
      22: { z: 5 },
      23: { motion: 'G1', z: 1, feed: 333.3 },
      24: { z: -1.5, feed: 300 },
      25: { x: 40, feed: 1000 },
      26: { y: 30 },
      27: { x: 10 },
      28: { motion: 'G2', y: 10 },
      29: { motion: 'G1', z: -3, feed: 300 },
      30: { x: 40, feed: 1000 },
      31: { motion: 'G3', y: 30 },
      32: { motion: 'G0', z: 5 },
      33: { coolant: { flood: false } },
      // 40/25.4, 30/25.4, 5/25.4, 15/25.4, 1000/25.4 to six decimals.
      35: { units: 'G20', x: 1.574803, y: 1.181102, z: 0.19685, maxZ: 0.590551, feed: 39.370079 },
      36: { x: 1, y: 1 },
      37: { motion: 'G1', z: -0.05, feed: 12 },
      38: { distance: 'G91', extrusion: 'M83', x: 1.5 },
      39: { distance: 'G90', extrusion: 'M82' },
      40: { coolant: { mist: true } },
      41: { spindleSpeed: 9000 },
      42: { motion: 'G0', z: 0.5 },
      43: { units: 'G21', x: 38.1, y: 25.4, z: 12.7, maxZ: 15, feed: 304.8 },
      44: { spindle: 'M5' },
      45: { coolant: { mist: false } },
      // Homing leaves the work position unknown: never guessed.
      46: { distance: 'G91', extrusion: 'M83', z: null },
      47: { distance: 'G90', extrusion: 'M82' },
      48: { distance: 'G91', extrusion: 'M83', x: null, y: null },
      49: { distance: 'G90', extrusion: 'M82' },
    })
  })

  it('follows a CAM file that sets its work offsets with G10 L2 and L20, line by line', () => {
    // Offsets are origins from machine zero. Hand-checked, in machine terms:
    // line 16: the tool is at machine Z -50 + 10 = -40; L20 makes it read 12, so G54 Z = -52.
    // line 17: G54 -> G55: X -200 + 20 = machine -180, in G55 (-100) reads -80; Y stays 5
    //          (both -150); G55 has no Z from the file, so Z (and the highest Z) are unknown.
    // line 19: L20 on G55 at X5 Y5: machine X -95, Y -145 become the origin; the tool reads 0, 0.
    // line 23: L2 P0 sets G55 Z with no known Z before: Z unknown.
    // line 24: G55 -> G54: X machine -95 + 15 = -80 reads 120 in G54; Y -145 + 0 reads 5.
    walk(fixture('cam-work-offsets.nc'), {
      6: { workOffsets: { G54: { x: -200, y: -150, z: -50, line: 6 } } },
      7: {
        workOffsets: { G54: { x: -200, y: -150, z: -50, line: 6 }, G55: { x: -100, y: -150, line: 7 } },
      },
      8: { tool: 1 },
      9: { spindle: 'M3', spindleSpeed: 10000 },
      11: { motion: 'G0', x: 5, y: 5 },
      12: { z: 10, maxZ: 10 },
      13: { motion: 'G1', z: -1, feed: 200 },
      14: { x: 20, feed: 800 },
      15: { motion: 'G0', z: 10 },
      16: {
        z: 12,
        maxZ: 12,
        workOffsets: { G54: { x: -200, y: -150, z: -52, line: 16 }, G55: { x: -100, y: -150, line: 7 } },
      },
      17: { workOffset: 'G55', x: -80, z: null, maxZ: null },
      18: { x: 5, y: 5 },
      19: {
        x: 0,
        y: 0,
        workOffsets: { G54: { x: -200, y: -150, z: -52, line: 16 }, G55: { x: -95, y: -145, line: 19 } },
      },
      20: { motion: 'G1', z: -1, maxZ: -1, feed: 200 },
      21: { x: 15, feed: 800 },
      22: { motion: 'G0', z: 10, maxZ: 10 },
      23: {
        z: null,
        maxZ: null,
        workOffsets: {
          G54: { x: -200, y: -150, z: -52, line: 16 },
          G55: { x: -95, y: -145, z: -40, line: 23 },
        },
      },
      24: { workOffset: 'G54', x: 120, y: 5 },
      25: { motion: 'G1', x: 30, y: 30 },
      26: { spindle: 'M5' },
    })
  })

  it('keeps settings words out of the position and the tool', () => {
    const t = new ModalStateTracker()
    t.feed('M201 X1000 Y1000 Z200 E5000')
    t.feed('M204 S1250 T1250')
    t.feed('M104 T1 S200')
    t.feed('G4 S1')
    // An offset of another system than the active G54: no move, no position.
    t.feed('G10 L2 P2 X0 Y0')
    // Marlin's G10 is a firmware retract: not an offset either.
    t.feed('G10 S1')
    expect(t.state).toMatchObject({ x: null, y: null, z: null, e: 0, tool: null, spindleSpeed: null })
    expect(t.state.workOffsets).toEqual({ G55: { x: 0, y: 0, line: 5 } })
    expect(t.state.hotends).toEqual({ 1: 200 })
  })

  it('tracks only the part-cooling fan and relative moves from a known position', () => {
    const t = new ModalStateTracker()
    t.feed('M106 P1 S80')
    expect(t.state.fan).toBe(0)
    t.feed('M106')
    expect(t.state.fan).toBe(255)
    t.feed('G91')
    t.feed('G1 X5')
    expect(t.state.x).toBeNull()
    t.feed('G92 X1')
    t.feed('G1 X5')
    expect(t.state.x).toBe(6)
    t.feed('G53 G0 Z-1')
    expect(t.state.z).toBeNull()
  })
})
