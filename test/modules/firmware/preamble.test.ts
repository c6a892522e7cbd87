import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ModalStateTracker } from '../../../src/modules/firmware/modal-state.js'
import { buildPreamble } from '../../../src/modules/firmware/preamble.js'

/** The modal state just before `line` of a fixture. */
function stateBefore(name: string, line: number) {
  const text = readFileSync(join(import.meta.dirname, '../../fixtures/gcode', name), 'latin1')
  const tracker = new ModalStateTracker()
  for (const raw of text.split(/\r\n|\r|\n/).slice(0, line - 1)) tracker.feed(raw)
  return tracker.state
}

describe('restart preamble', () => {
  it('heats, restores modes and E, homes XY, lifts to the resume height, moves over, lowers (printer)', () => {
    const p = buildPreamble(stateBefore('prusaslicer-cube.gcode', 46), { kind: 'printer' })
    expect(p.lines).toEqual([
      'M140 S60',
      'M104 S215',
      'M190 S60',
      'M109 S215',
      'G21',
      'G90',
      'M83',
      'G92 E0',
      'M107',
      'G28 X Y',
      'G1 Z2.2 F600',
      'G1 X95.563 Y95.563 F3000',
      'G1 Z0.2 F600',
      'G1 F1200',
    ])
    expect(p.warnings).toEqual([])
  })

  it('restores the fan and the extruder position of a later layer', () => {
    const p = buildPreamble(stateBefore('prusaslicer-cube.gcode', 61), {
      kind: 'printer',
      homeXY: false,
      zClearanceMm: 1,
    })
    expect(p.lines).toContain('M106 S255')
    expect(p.lines).toContain('G92 E1.83199')
    expect(p.lines).not.toContain('G28 X Y')
    expect(p.lines.slice(-4)).toEqual(['G1 Z1.4 F600', 'G1 X103.9 Y103.9 F3000', 'G1 Z0.4 F600', 'G1 F2100'])
  })

  it('rebuilds units, work offset, spindle with a dwell and coolant, then raises, moves and plunges (CNC)', () => {
    const p = buildPreamble(stateBefore('fusion-pocket.nc', 29), { kind: 'cnc' })
    expect(p.lines).toEqual([
      'G21',
      'G90',
      'G54',
      'G17',
      'M3 S12000',
      'G4 P2',
      'M8',
      'G0 Z15',
      'G0 X10 Y10',
      'G1 Z-1.5 F1000',
    ])
    expect(p.warnings).toEqual([
      'the file uses tool T1 at this line: make sure it is in the spindle',
      'the file is in arc mode (G2): the resume line must name its own motion',
    ])
  })

  it('restarts inside the inch section in inches, without the coolant the file turned off', () => {
    const p = buildPreamble(stateBefore('fusion-pocket.nc', 37), { kind: 'cnc', spindleDwellS: 0.5 })
    expect(p.lines).toEqual([
      'G20',
      'G90',
      'G54',
      'G17',
      'M3 S12000',
      'G4 P0.5',
      'G0 Z0.590551',
      'G0 X1 Y1',
      'G1 Z0.19685 F39.370079',
      'G0',
    ])
  })

  it('moves nothing when the position is unknown, and says so', () => {
    const p = buildPreamble(stateBefore('fusion-pocket.nc', 47), { kind: 'cnc' })
    expect(p.lines.some((l) => /^G[01] /.test(l))).toBe(false)
    expect(p.warnings[1]).toMatch(/before line 47 is not fully known/)
    const q = buildPreamble(stateBefore('prusaslicer-cube.gcode', 21), { kind: 'printer' })
    expect(q.lines.some((l) => l.startsWith('G1 Z'))).toBe(false)
    expect(q.warnings[0]).toMatch(/Z height before line 21 is unknown/)
  })

  it('re-establishes the work offsets the file set with G10 before selecting its own (CNC)', () => {
    // Restarting at line 23 of the CAM file: both offsets as lines 16 and 19 left them, G55 active.
    const p = buildPreamble(stateBefore('cam-work-offsets.nc', 23), { kind: 'cnc' })
    expect(p.lines).toEqual([
      'G21',
      'G90',
      'G10 L2 P1 X-200 Y-150 Z-52',
      'G10 L2 P2 X-95 Y-145',
      'G55',
      'G17',
      'M3 S10000',
      'G4 P2',
      'G0 Z10',
      'G0 X15 Y0',
      'G1 Z10 F800',
      'G0',
    ])
    expect(p.warnings).toEqual(['the file uses tool T1 at this line: make sure it is in the spindle'])
    // At line 25 G55 has its Z from line 23 too; back on G54 with Z unknown, nothing moves.
    const q = buildPreamble(stateBefore('cam-work-offsets.nc', 25), { kind: 'cnc' })
    expect(q.lines.slice(0, 6)).toEqual([
      'G21',
      'G90',
      'G10 L2 P1 X-200 Y-150 Z-52',
      'G10 L2 P2 X-95 Y-145 Z-40',
      'G54',
      'G17',
    ])
    expect(q.lines.some((l) => /^G[01] [XYZ]/.test(l))).toBe(false)
  })

  it('warns about an offset set by G10 L20 from a position the file never stated', () => {
    const t = new ModalStateTracker()
    for (const line of ['G21', 'G54', 'G0 Z5', 'G10 L20 P1 Z0', 'G0 X1 Y1']) t.feed(line)
    expect(t.state.workOffsets).toEqual({ G54: { z: null, line: 4 } })
    // The tool reads Z0 now: that much the file says.
    expect(t.state.z).toBe(0)
    const p = buildPreamble(t.state, { kind: 'cnc' })
    expect(p.lines.some((l) => l.startsWith('G10'))).toBe(false)
    expect(p.warnings).toContain(
      'the G54 offset of Z was set at line 4 by G10 L20 from where the tool stood then: the controller keeps it, check it before confirming',
    )
  })
})
