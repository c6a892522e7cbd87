// The machine's modal state as a G-code file leaves it, line by line: what a
// job restarted from a line must set again before that line runs (units,
// distance modes, work offset, feed, spindle, coolant, fan, temperatures,
// extruder position, where the tool is). Pure: text in, state out, no I/O.
//
// Interpretation follows Marlin 2.x for printer words and GRBL 1.1 for CNC
// words, which share the rest:
// - G90/G91 also set the extruder's mode (Marlin 2.x: set_relative_mode sets or
//   clears E's bit too); M82/M83 set only the extruder's, so PrusaSlicer's
//   `G90` then `M83` leaves E relative.
// - Positions, feed and the highest Z are kept in the file's current units; a
//   G20/G21 switch converts them, as the controller does internally.
// - A position the file cannot tell (after G28/G30 homing, a G53 machine move
//   or a G38 probe) is null: unknown, never guessed.
// - `S` is the spindle speed only on a line without another M word or G4
//   (M104 S215 is a temperature, G4 S1 a dwell, G10 S1 a retract); `T` selects a tool only
//   outside M104/M109 (where it names the hotend).
// - `G10 L2 P<n>` sets work offset n (P1-P6: G54-G59, P0: the active one) to
//   the given axes, absolute, in the current units; `G10 L20 P<n>` sets it so
//   that the tool's current position reads as the given axes. An L20 offset
//   is known only when the file stated the offset it changes (an earlier L2)
//   and the tool's position: otherwise the axis is null, set from where the
//   tool stood then and known only to the controller. A G10 without L2/L20
//   (Marlin's G10 retract) is not an offset.

import { stripGcodeLine } from './gcode.js'

export type Units = 'G20' | 'G21'
export type DistanceMode = 'G90' | 'G91'
export type ExtrusionMode = 'M82' | 'M83'
export type WorkOffset = 'G54' | 'G55' | 'G56' | 'G57' | 'G58' | 'G59'
export type Plane = 'G17' | 'G18' | 'G19'
export type MotionMode = 'G0' | 'G1' | 'G2' | 'G3' | 'G80'
export type SpindleState = 'M3' | 'M4' | 'M5'

/** A work offset as the file set it: the origin from machine zero per axis, in the current units. */
export interface WorkOffsetSetting {
  /** An axis the file never set is absent (the controller's stored value stands); null: set by L20 from an unknown base. */
  x?: number | null
  y?: number | null
  z?: number | null
  /** The file line of the G10 that last changed it. */
  line: number
}

export interface ModalState {
  /** The last file line fed (0 before the first). */
  line: number
  units: Units
  distance: DistanceMode
  extrusion: ExtrusionMode
  workOffset: WorkOffset
  /** Offsets set in the file by G10 L2/L20, by coordinate system; {} when it sets none. */
  workOffsets: Partial<Record<WorkOffset, WorkOffsetSetting>>
  plane: Plane
  motion: MotionMode | null
  /** Feed rate in the current units per minute; null until the file sets one. */
  feed: number | null
  spindle: SpindleState
  spindleSpeed: number | null
  coolant: { mist: boolean; flood: boolean }
  /** Part-cooling fan (M106 P0), 0-255. */
  fan: number
  /** Hotend targets by extruder index (M104/M109), °C. */
  hotends: Record<string, number>
  /** Bed target (M140/M190), °C; null until set. */
  bed: number | null
  /** Selected tool (T<n>, M6 T<n>); null until set. */
  tool: number | null
  /** Work position in the current units; null when unknown. */
  x: number | null
  y: number | null
  z: number | null
  /** Extruder position (logical, as G92 E sets it). */
  e: number
  /** The highest Z moved to so far (a CAM program's clearance height). */
  maxZ: number | null
}

export function initialModalState(): ModalState {
  return {
    line: 0,
    units: 'G21',
    distance: 'G90',
    extrusion: 'M82',
    workOffset: 'G54',
    workOffsets: {},
    plane: 'G17',
    motion: null,
    feed: null,
    spindle: 'M5',
    spindleSpeed: null,
    coolant: { mist: false, flood: false },
    fan: 0,
    hotends: {},
    bed: null,
    tool: null,
    x: null,
    y: null,
    z: null,
    e: 0,
    maxZ: null,
  }
}

interface Word {
  letter: string
  value: number
}

// Commands whose argument is free text, which must not be read as words.
const TEXT_COMMANDS = /^M(?:23|28|30|32|117|118|928)\b/i
const WORD = /([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))/gi
const INCH_MM = 25.4

/** The words of one line: comments, a line number `N..` and a checksum `*..` removed. */
export function lineWords(raw: string): Word[] {
  let text = stripGcodeLine(raw)
  // `N12 G1 X1*97`: the checksum covers the line as sent; neither is a word of the program.
  text = text
    .replace(/\*\d*\s*$/, '')
    .replace(/^N\s*\d+\s*/i, '')
    .trim()
  if (text === '' || text === '%') return []
  if (TEXT_COMMANDS.test(text) && !/^M30\s*$/i.test(text)) {
    const head = /^M\d+/i.exec(text)
    return head ? [{ letter: 'M', value: Number(head[0].slice(1)) }] : []
  }
  const words: Word[] = []
  for (const [, letter = '', value] of text.matchAll(WORD))
    words.push({ letter: letter.toUpperCase(), value: Number(value) })
  return words
}

const round = (v: number) => Math.round(v * 1e6) / 1e6

/** Feeds lines in file order; `state` is where the machine stands after the last one. */
export class ModalStateTracker {
  private current: ModalState

  constructor(from: ModalState = initialModalState()) {
    this.current = cloneModalState(from)
  }

  /** A copy of the state after the last line fed, lengths rounded to 6 decimals. */
  get state(): ModalState {
    const s = cloneModalState(this.current)
    const r = (v: number | null) => (v === null ? null : round(v))
    for (const setting of Object.values(s.workOffsets)) {
      for (const a of OFFSET_AXES) {
        const v = setting[a]
        if (v !== undefined) setting[a] = r(v)
      }
    }
    return { ...s, x: r(s.x), y: r(s.y), z: r(s.z), maxZ: r(s.maxZ), feed: r(s.feed), e: round(s.e) }
  }

  /** Feeds one raw line (comments and numbering allowed); `lineNumber` defaults to the next. */
  feed(raw: string, lineNumber = this.current.line + 1): void {
    this.current.line = lineNumber
    const words = lineWords(raw)
    if (words.length === 0) return
    const s = this.current
    const g = words.filter((w) => w.letter === 'G').map((w) => w.value)
    const m = words.filter((w) => w.letter === 'M').map((w) => w.value)
    const value = (letter: string) => words.find((w) => w.letter === letter)?.value

    // Units first: every other number on the line is read in the new units.
    if (g.includes(20)) this.setUnits('G20')
    if (g.includes(21)) this.setUnits('G21')
    for (const code of g) this.modalG(code)
    for (const code of m) this.modalM(code, words)

    const f = value('F')
    if (f !== undefined) s.feed = f
    const speed = value('S')
    // G4 S is a dwell, Marlin's G10 S a swap retract.
    const sIsSpindle = m.every((c) => c >= 3 && c <= 9) && !g.includes(4) && !g.includes(10)
    if (speed !== undefined && sIsSpindle) s.spindleSpeed = speed
    const t = value('T')
    if (t !== undefined && m.every((c) => c === 6)) s.tool = t

    // M201 X1000 and the like take axis letters as settings, never as moves.
    if (m.length === 0 || g.length > 0) this.position(g, words)
  }

  private setUnits(units: Units): void {
    const s = this.current
    if (s.units === units) return
    const k = units === 'G21' ? INCH_MM : 1 / INCH_MM
    // Unrounded, so a switch there and back gives the same numbers.
    const scale = (v: number | null) => (v === null ? null : v * k)
    s.x = scale(s.x)
    s.y = scale(s.y)
    s.z = scale(s.z)
    s.maxZ = scale(s.maxZ)
    s.feed = scale(s.feed)
    for (const setting of Object.values(s.workOffsets)) {
      for (const a of OFFSET_AXES) {
        const v = setting[a]
        if (v !== undefined) setting[a] = scale(v)
      }
    }
    s.units = units
  }

  private modalG(code: number): void {
    const s = this.current
    if (code === 0 || code === 1 || code === 2 || code === 3 || code === 80)
      s.motion = `G${code}` as MotionMode
    else if (code === 17 || code === 18 || code === 19) s.plane = `G${code}` as Plane
    else if (code >= 54 && code <= 59 && Number.isInteger(code))
      this.selectWorkOffset(`G${code}` as WorkOffset)
    else if (code === 90) {
      s.distance = 'G90'
      s.extrusion = 'M82'
    } else if (code === 91) {
      s.distance = 'G91'
      s.extrusion = 'M83'
    }
  }

  private modalM(code: number, words: Word[]): void {
    const s = this.current
    const value = (letter: string) => words.find((w) => w.letter === letter)?.value
    switch (code) {
      case 3:
      case 4:
      case 5:
        s.spindle = `M${code}` as SpindleState
        break
      case 7:
        s.coolant.mist = true
        break
      case 8:
        s.coolant.flood = true
        break
      case 9:
        s.coolant = { mist: false, flood: false }
        break
      case 82:
      case 83:
        s.extrusion = `M${code}` as ExtrusionMode
        break
      case 104:
      case 109: {
        // M109 R waits for heating or cooling to R; either sets the target.
        const target = value('S') ?? value('R')
        if (target !== undefined) s.hotends[String(value('T') ?? s.tool ?? 0)] = target
        break
      }
      case 140:
      case 190: {
        const target = value('S') ?? value('R')
        if (target !== undefined) s.bed = target
        break
      }
      case 106:
        if ((value('P') ?? 0) === 0) s.fan = Math.max(0, Math.min(255, value('S') ?? 255))
        break
      case 107:
        if ((value('P') ?? 0) === 0) s.fan = 0
        break
    }
  }

  /**
   * G54-G59. Where the file set the offsets of both systems the tool's work
   * position is carried over (it stays put in machine terms); where it set
   * only one, the position in the other is unknown; where it set neither, the
   * numbers carry over as they are (the file says nothing about them).
   */
  private selectWorkOffset(next: WorkOffset): void {
    const s = this.current
    if (next === s.workOffset) return
    for (const a of OFFSET_AXES) {
      const from = s.workOffsets[s.workOffset]?.[a]
      const to = s.workOffsets[next]?.[a]
      if ((from === undefined && to === undefined) || s[a] === null) continue
      const known = typeof from === 'number' && typeof to === 'number'
      const before = s[a]
      s[a] = known && before !== null ? before + from - to : null
      if (a === 'z' && s.maxZ !== null) s.maxZ = known ? s.maxZ + from - to : null
    }
    s.workOffset = next
  }

  /**
   * G10 L2 / L20 on the system P names. When it is the active one the tool's
   * work position follows (it stays put in machine terms while the origin
   * moves), and so does the highest Z.
   */
  private setWorkOffset(l: 2 | 20, p: number, words: Word[]): void {
    const s = this.current
    const system = offsetSystemOf(p, s.workOffset)
    if (system === null) return
    const isActive = system === s.workOffset
    const setting: WorkOffsetSetting = { ...s.workOffsets[system], line: s.line }
    for (const a of OFFSET_AXES) {
      const v = words.find((w) => w.letter === a.toUpperCase())?.value
      if (v === undefined) continue
      const old = setting[a]
      const position = s[a]
      // The machine position is the active origin plus the work position, when both are known.
      const activeOrigin = s.workOffsets[s.workOffset]?.[a]
      const machine = typeof activeOrigin === 'number' && position !== null ? activeOrigin + position : null
      setting[a] = l === 2 ? v : machine === null ? null : machine - v
      if (!isActive) continue
      const moved = l === 20 ? v : position !== null && typeof old === 'number' ? position + old - v : null
      s[a] = moved
      if (a === 'z' && s.maxZ !== null) {
        s.maxZ = moved !== null && position !== null ? s.maxZ + moved - position : null
      }
    }
    s.workOffsets[system] = setting
  }

  private position(g: number[], words: Word[]): void {
    const s = this.current
    const axes = (['X', 'Y', 'Z'] as const).filter((a) => words.some((w) => w.letter === a))
    const value = (letter: string) => words.find((w) => w.letter === letter)?.value
    const key = (a: 'X' | 'Y' | 'Z') => a.toLowerCase() as 'x' | 'y' | 'z'
    if (g.includes(92)) {
      // G92 says where the tool is now, in the program's terms.
      for (const a of axes) s[key(a)] = value(a) ?? null
      const e = value('E')
      if (e !== undefined) s.e = e
      return
    }
    if (g.includes(28) || g.includes(30)) {
      for (const a of axes.length > 0 ? axes : (['X', 'Y', 'Z'] as const)) s[key(a)] = null
      return
    }
    if (g.includes(10)) {
      const l = value('L')
      if (l === 2 || l === 20) this.setWorkOffset(l, value('P') ?? 0, words)
      // Axis-like words of a G10 are never moves.
      return
    }
    // G4 takes axis-like words (P, S) that are not moves.
    if (g.includes(4)) return
    if (g.includes(53) || g.some((c) => c >= 38 && c < 39)) {
      for (const a of axes) s[key(a)] = null
      return
    }
    const isRelative = s.distance === 'G91'
    for (const a of axes) {
      const v = value(a)!
      const k = key(a)
      const prior = s[k]
      s[k] = isRelative ? (prior === null ? null : prior + v) : v
    }
    if (s.z !== null && axes.includes('Z')) s.maxZ = s.maxZ === null ? s.z : Math.max(s.maxZ, s.z)
    const e = value('E')
    if (e !== undefined) s.e = s.extrusion === 'M83' ? s.e + e : e
  }
}

const OFFSET_AXES = ['x', 'y', 'z'] as const
const OFFSET_SYSTEMS: WorkOffset[] = ['G54', 'G55', 'G56', 'G57', 'G58', 'G59']

/** The coordinate system a G10's P names: P0 the active one, P1-P6 G54-G59; null for others (G59.1...). */
export function offsetSystemOf(p: number, active: WorkOffset): WorkOffset | null {
  if (p === 0) return active
  return Number.isInteger(p) ? (OFFSET_SYSTEMS[p - 1] ?? null) : null
}

export function cloneModalState(state: ModalState): ModalState {
  const workOffsets: ModalState['workOffsets'] = {}
  // A checkpoint written before offsets were tracked has none.
  for (const [system, setting] of Object.entries(state.workOffsets ?? {})) {
    workOffsets[system as WorkOffset] = { ...setting }
  }
  return { ...state, coolant: { ...state.coolant }, hotends: { ...state.hotends }, workOffsets }
}
