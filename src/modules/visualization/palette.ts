// One palette for the scene: status sets colour, health sets glow, CPU sets
// orbit speed. Documented in docs/VISUALIZATION.md; change both together.

export const AGENT_COLORS: Record<string, string> = {
  running: '#22c55e',
  starting: '#eab308',
  restarting: '#eab308',
  stopping: '#f97316',
  stopped: '#64748b',
  error: '#ef4444',
}

export const DEVICE_COLORS: Record<string, string> = {
  connected: '#22c55e',
  connecting: '#eab308',
  disconnected: '#64748b',
  error: '#ef4444',
}

export const CORE_COLORS = {
  ok: '#38bdf8',
  busy: '#eab308',
  overloaded: '#ef4444',
} as const satisfies Record<string, string>

/** Colour of anything whose status this palette does not know. */
export const UNKNOWN_COLOR = '#a855f7'

export type Animation = 'orbit' | 'pulse' | 'idle' | 'blink'

export function agentColor(status: string): string {
  return AGENT_COLORS[status] ?? UNKNOWN_COLOR
}

export function deviceColor(status: string): string {
  return DEVICE_COLORS[status] ?? UNKNOWN_COLOR
}

export function agentAnimation(status: string): Animation {
  if (status === 'running') return 'orbit'
  if (status === 'starting' || status === 'restarting' || status === 'stopping') return 'pulse'
  if (status === 'error') return 'blink'
  return 'idle'
}

export function deviceAnimation(status: string, pulse: number): Animation {
  if (status === 'error') return 'blink'
  if (status === 'connecting') return 'pulse'
  if (status === 'connected') return pulse > 0 ? 'pulse' : 'idle'
  return 'idle'
}

/** Health 0-100 → emissive intensity 0.2-1.0; a stopped agent glows at the floor. */
export function emissiveIntensity(health: number, status: string): number {
  if (status === 'stopped') return 0.2
  const h = Math.max(0, Math.min(100, health))
  return round(0.2 + 0.8 * (h / 100))
}

/** CPU % → orbit speed in radians per second: 0.05 when idle up to 1.0 at a full core or more. */
export function orbitSpeed(cpuPercent: number | null, status: string): number {
  if (status !== 'running') return 0
  const cpu = Math.max(0, Math.min(100, cpuPercent ?? 0))
  return round(0.05 + 0.95 * (cpu / 100))
}

/** Memory → size: 1.0 for nothing up to 2.0 at 1 GiB or more. */
export function agentScale(memoryBytes: number | null): number {
  const gib = (memoryBytes ?? 0) / 1024 ** 3
  return round(1 + Math.min(1, gib))
}

/** How recently a device spoke: 1 just now, fading linearly to 0 after `fadeMs`. */
export function devicePulse(lastSeen: Date | null, now: Date, fadeMs = 10_000): number {
  if (!lastSeen) return 0
  const age = now.getTime() - lastSeen.getTime()
  return round(Math.max(0, Math.min(1, 1 - age / fadeMs)))
}

export function coreStatus(
  cpuPercent: number | null,
  memoryPercent: number | null,
): keyof typeof CORE_COLORS {
  const load = Math.max(cpuPercent ?? 0, memoryPercent ?? 0)
  if (load >= 90) return 'overloaded'
  if (load >= 70) return 'busy'
  return 'ok'
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
