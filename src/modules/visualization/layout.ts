// Geometry of the scene. An entity's place is (kind, ring, slot): the ring
// comes from its group (type), the slot is assigned once and kept (see
// layout-store.ts), so positions never depend on list order or on others.
//
// Each ring is a cylinder around the Y axis: slots fill a layer around the
// circle at MIN_DISTANCE spacing, further layers stack alternately above and
// below. Within a layer neighbours are >= MIN_DISTANCE apart (chord length),
// layers are LAYER_GAP apart, rings RING_GAP apart; so any two slots are at
// least MIN_DISTANCE apart, for any number of entities.

export type SceneKind = 'agent' | 'device'
export type Vec3 = [number, number, number]

export const MIN_DISTANCE = 1.5
export const LAYER_GAP = 2
export const RING_GAP = 5

/** Agents orbit on AGENT_RINGS rings from radius 10; devices sit on DEVICE_RINGS rings beyond them. */
export const AGENT_RING_BASE = 10
export const AGENT_RINGS = 8
export const DEVICE_RING_BASE = AGENT_RING_BASE + AGENT_RINGS * RING_GAP + 10
export const DEVICE_RINGS = 6

export function ringRadius(kind: SceneKind, ring: number): number {
  return kind === 'agent' ? AGENT_RING_BASE + ring * RING_GAP : DEVICE_RING_BASE + ring * RING_GAP
}

/** Groups beyond the ring count share rings; slots are allocated per ring, so sharing never overlaps. */
export function ringOfGroup(kind: SceneKind, groupIndex: number): number {
  return groupIndex % (kind === 'agent' ? AGENT_RINGS : DEVICE_RINGS)
}

export function slotsPerLayer(radius: number): number {
  // Chord between neighbours: 2 r sin(pi / n) >= MIN_DISTANCE.
  return Math.max(3, Math.floor(Math.PI / Math.asin(Math.min(1, (MIN_DISTANCE * 1.01) / (2 * radius)))))
}

export interface Placement {
  position: Vec3
  radius: number
  /** Angle of the slot on its circle, radians: the orbit's phase at t = 0. */
  phase: number
}

export function place(kind: SceneKind, ring: number, slot: number): Placement {
  const radius = ringRadius(kind, ring)
  const perLayer = slotsPerLayer(radius)
  const layer = Math.floor(slot / perLayer)
  const index = slot % perLayer
  // Layer 0 at y=0, then +1, -1, +2, -2, ...
  const level = layer === 0 ? 0 : layer % 2 === 1 ? (layer + 1) / 2 : -layer / 2
  // Offset each ring's start angle so rings do not line up into spokes.
  const phase = normalise((2 * Math.PI * index) / perLayer + ring * 0.61803)
  const y = level * LAYER_GAP
  return {
    position: [round(radius * Math.cos(phase)), round(y), round(radius * Math.sin(phase))],
    radius,
    phase: round(phase),
  }
}

function normalise(angle: number): number {
  const twoPi = 2 * Math.PI
  return ((angle % twoPi) + twoPi) % twoPi
}

function round(n: number): number {
  return Math.round(n * 1e4) / 1e4
}

export function distance(a: Vec3, b: Vec3): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2])
}
