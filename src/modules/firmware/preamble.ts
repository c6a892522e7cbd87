// The lines sent before a job restarted from a line: they put the machine back
// in the modal state the file had left it in just before that line (see
// modal-state.ts), then bring the tool to where that line expects it without
// dragging it through the work. Pure: state in, lines out.
//
// Printer: heat first (bed and hotend targets, then wait for both), modes,
// extruder position, fan, home X and Y only (homing Z would drive the nozzle
// into the part), lift to the resume height plus a clearance, move over the
// resume point, lower onto the layer.
// CNC: modes, the work offsets the file set (G10 L2 with the values it
// left them at), the active work offset, spindle with a dwell to reach speed,
// coolant, raise to a safe height, move over the resume point, plunge at feed.

import type { ModalState, WorkOffset } from './modal-state.js'

export type MachineKind = 'printer' | 'cnc'

export interface PreambleOptions {
  kind: MachineKind
  /** Printer: how far above the resume height the nozzle travels, in mm. Default 2. */
  zClearanceMm?: number
  /** Printer: home X and Y before moving (default true: a reset firmware has lost its position). */
  homeXY?: boolean
  /** Printer: travel feed for the moves to the resume point, mm/min. Default 3000 (Z: 600). */
  travelFeedMmMin?: number
  /** CNC: the Z to raise to, in the file's units; default the highest Z before the line, else 5 mm (0.2 in). */
  safeZ?: number
  /** CNC: seconds the spindle gets to reach speed before any move. Default 2. */
  spindleDwellS?: number
}

export interface Preamble {
  lines: string[]
  /** What the preamble could not restore, for the operator to check before confirming. */
  warnings: string[]
}

const INCH_MM = 25.4
// Six decimals, as the modal state keeps them: rounding them again could round twice.
const num = (v: number) => String(Math.round(v * 1e6) / 1e6)

export function buildPreamble(state: ModalState, options: PreambleOptions): Preamble {
  return options.kind === 'printer' ? printerPreamble(state, options) : cncPreamble(state, options)
}

/** mm (a setting) in the file's units. */
const inUnits = (state: ModalState, mm: number) => (state.units === 'G20' ? mm / INCH_MM : mm)

function printerPreamble(state: ModalState, options: PreambleOptions): Preamble {
  const lines: string[] = []
  const warnings: string[] = []
  const hotends = Object.entries(state.hotends).filter(([, t]) => t > 0)
  const single = hotends.length === 1 && hotends[0]![0] === String(state.tool ?? 0)
  const tool = (n: string) => (single ? '' : ` T${n}`)
  // Both heaters start at once; then each is waited for.
  if (state.bed !== null && state.bed > 0) lines.push(`M140 S${num(state.bed)}`)
  for (const [n, t] of hotends) lines.push(`M104${tool(n)} S${num(t)}`)
  if (state.bed !== null && state.bed > 0) lines.push(`M190 S${num(state.bed)}`)
  for (const [n, t] of hotends) lines.push(`M109${tool(n)} S${num(t)}`)
  if (state.tool !== null) lines.push(`T${state.tool}`)
  lines.push(state.units, 'G90', state.extrusion, `G92 E${num(state.e)}`)
  lines.push(state.fan > 0 ? `M106 S${num(state.fan)}` : 'M107')
  if (options.homeXY ?? true) lines.push('G28 X Y')
  const travel = num(inUnits(state, options.travelFeedMmMin ?? 3000))
  const zTravel = num(inUnits(state, (options.travelFeedMmMin ?? 3000) / 5))
  if (state.z === null) {
    warnings.push(`the Z height before line ${state.line + 1} is unknown; no move to the resume point`)
  } else {
    const lift = state.z + inUnits(state, options.zClearanceMm ?? 2)
    lines.push(`G1 Z${num(lift)} F${zTravel}`)
    if (state.x !== null || state.y !== null) {
      lines.push(`G1${axis('X', state.x)}${axis('Y', state.y)} F${travel}`)
    }
    if (state.x === null || state.y === null) {
      warnings.push(`the X or Y position before line ${state.line + 1} is unknown; only the known axes move`)
    }
    lines.push(`G1 Z${num(state.z)} F${zTravel}`)
  }
  if (state.feed !== null) lines.push(`G1 F${num(state.feed)}`)
  if (state.distance === 'G91') lines.push('G91', state.extrusion)
  return { lines, warnings }
}

function cncPreamble(state: ModalState, options: PreambleOptions): Preamble {
  const warnings: string[] = []
  const lines: string[] = [
    state.units,
    'G90',
    ...workOffsetLines(state, warnings),
    state.workOffset,
    state.plane,
  ]
  if (state.tool !== null) {
    warnings.push(`the file uses tool T${state.tool} at this line: make sure it is in the spindle`)
  }
  if (state.spindle !== 'M5') {
    lines.push(state.spindleSpeed !== null ? `${state.spindle} S${num(state.spindleSpeed)}` : state.spindle)
    lines.push(`G4 P${num(options.spindleDwellS ?? 2)}`)
  }
  if (state.coolant.mist) lines.push('M7')
  if (state.coolant.flood) lines.push('M8')
  if (state.z === null || state.x === null || state.y === null) {
    warnings.push(
      `the position before line ${state.line + 1} is not fully known; no move to the resume point`,
    )
  } else {
    const safe = Math.max(options.safeZ ?? state.maxZ ?? inUnits(state, 5), state.z)
    lines.push(`G0 Z${num(safe)}`, `G0 X${num(state.x)} Y${num(state.y)}`)
    if (state.feed === null) {
      warnings.push('no feed rate was set before this line; the plunge goes at rapid speed')
      lines.push(`G0 Z${num(state.z)}`)
    } else {
      lines.push(`G1 Z${num(state.z)} F${num(state.feed)}`)
    }
  }
  if (state.motion === 'G0') lines.push('G0')
  else if (state.motion === 'G2' || state.motion === 'G3') {
    warnings.push(`the file is in arc mode (${state.motion}): the resume line must name its own motion`)
  }
  if (state.distance === 'G91') lines.push('G91')
  return { lines, warnings }
}

const SYSTEMS: WorkOffset[] = ['G54', 'G55', 'G56', 'G57', 'G58', 'G59']

/**
 * `G10 L2 P<n>` with every axis whose offset the file set and the parser knows
 * (in the file's units, which the preamble has just selected); an axis set by
 * `G10 L20` from a position the file never stated is a warning instead.
 */
function workOffsetLines(state: ModalState, warnings: string[]): string[] {
  const lines: string[] = []
  SYSTEMS.forEach((system, i) => {
    const setting = state.workOffsets?.[system]
    if (!setting) return
    const known = (['x', 'y', 'z'] as const).filter((a) => typeof setting[a] === 'number')
    const unknown = (['x', 'y', 'z'] as const).filter((a) => setting[a] === null)
    if (known.length > 0) {
      lines.push(
        `G10 L2 P${i + 1}${known.map((a) => ` ${a.toUpperCase()}${num(setting[a] as number)}`).join('')}`,
      )
    }
    if (unknown.length > 0) {
      warnings.push(
        `the ${system} offset of ${unknown.map((a) => a.toUpperCase()).join(', ')} was set at line ${setting.line} by G10 L20 from where the tool stood then: the controller keeps it, check it before confirming`,
      )
    }
  })
  return lines
}

const axis = (letter: string, v: number | null) => (v === null ? '' : ` ${letter}${num(v)}`)
