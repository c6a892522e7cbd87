// Builds the 3D scene payload from stored state plus live facts (process
// figures, latest telemetry, host metrics). Pure: no timers, no I/O.

import { place, type Vec3 } from './layout.js'
import type { LayoutStore } from './layout-store.js'
import {
  AGENT_COLORS,
  type Animation,
  agentAnimation,
  agentColor,
  agentScale,
  CORE_COLORS,
  coreStatus,
  DEVICE_COLORS,
  deviceAnimation,
  deviceColor,
  devicePulse,
  emissiveIntensity,
  orbitSpeed,
} from './palette.js'
import type { SceneData } from './repository.js'

export interface SceneCore {
  id: 'core'
  position: Vec3
  status: string
  color: string
  cpuPercent: number | null
  memoryPercent: number | null
}

export interface SceneAgent {
  id: string
  name: string
  type: string
  status: string
  health: number
  lastRun: string | null
  cpuPercent: number | null
  memoryBytes: number | null
  position: Vec3
  orbit: { radius: number; speed: number; phase: number }
  color: string
  emissiveIntensity: number
  scale: number
  animation: Animation
}

export interface SceneDevice {
  id: string
  name: string
  type: string
  status: string
  lastSeen: string | null
  telemetry: Record<string, unknown> | null
  position: Vec3
  color: string
  pulse: number
  animation: string
}

export type LinkKind = 'agent-device' | 'task-agent' | 'task-device'

export interface SceneLink {
  id: string
  kind: LinkKind
  source: string
  target: string
  /** For task links: the task's name, so the scene can label the beam. */
  label?: string
  active: boolean
}

export interface SceneSummary {
  agents: Record<string, number>
  devices: Record<string, number>
  jobs: Record<string, number>
}

export interface ScenePayload {
  timestamp: string
  core: SceneCore
  agents: SceneAgent[]
  devices: SceneDevice[]
  links: SceneLink[]
  summary: SceneSummary
}

export interface LiveFacts {
  agent(id: string): { cpuPercent: number | null; memoryBytes: number | null } | undefined
  telemetry(id: string): { readings: Record<string, unknown>; at: Date } | undefined
  host(): { cpuPercent: number; memoryPercent: number } | null
}

export function buildScene(data: SceneData, layout: LayoutStore, live: LiveFacts, now: Date): ScenePayload {
  const host = live.host()
  const coreState = coreStatus(host?.cpuPercent ?? null, host?.memoryPercent ?? null)

  const agents: SceneAgent[] = data.agents.map((a) => {
    const slot = layout.get(a.id)
    const p = slot ? place('agent', slot.ring, slot.slot) : place('agent', 0, 0)
    const facts = live.agent(a.id)
    const cpu = facts?.cpuPercent ?? null
    return {
      id: a.id,
      name: a.name,
      type: a.type,
      status: a.status,
      health: a.health,
      lastRun: a.lastRun?.toISOString() ?? null,
      cpuPercent: cpu,
      memoryBytes: facts?.memoryBytes ?? null,
      position: p.position,
      orbit: { radius: p.radius, speed: orbitSpeed(cpu, a.status), phase: p.phase },
      color: agentColor(a.status),
      emissiveIntensity: emissiveIntensity(a.health, a.status),
      scale: agentScale(facts?.memoryBytes ?? null),
      animation: agentAnimation(a.status),
    }
  })

  const devices: SceneDevice[] = data.devices.map((d) => {
    const slot = layout.get(d.id)
    const p = slot ? place('device', slot.ring, slot.slot) : place('device', 0, 0)
    const t = live.telemetry(d.id)
    // Telemetry is fresher than the stored lastSeen, whose writes are throttled.
    const lastSeen = t && (!d.lastSeen || t.at > d.lastSeen) ? t.at : d.lastSeen
    const pulse = d.status === 'connected' ? devicePulse(lastSeen, now) : 0
    return {
      id: d.id,
      name: d.name,
      type: d.type,
      status: d.status,
      lastSeen: lastSeen?.toISOString() ?? null,
      telemetry: t?.readings ?? null,
      position: p.position,
      color: deviceColor(d.status),
      pulse,
      animation: deviceAnimation(d.status, pulse),
    }
  })

  return {
    timestamp: now.toISOString(),
    core: {
      id: 'core',
      position: [0, 0, 0],
      status: coreState,
      color: CORE_COLORS[coreState],
      cpuPercent: host ? round1(host.cpuPercent) : null,
      memoryPercent: host ? round1(host.memoryPercent) : null,
    },
    agents,
    devices,
    links: buildLinks(data, agents, devices),
    summary: {
      agents: countBy(agents, Object.keys(AGENT_COLORS)),
      devices: countBy(devices, Object.keys(DEVICE_COLORS)),
      jobs: { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, ...data.jobCounts },
    },
  }
}

/**
 * Relations are found, not declared: any string in an agent's configuration
 * equal to a visible device id links the two; any agent or device id in a
 * task's payload (workflow steps included) links the task to it.
 */
function buildLinks(data: SceneData, agents: SceneAgent[], devices: SceneDevice[]): SceneLink[] {
  const agentById = new Map(agents.map((a) => [a.id, a]))
  const deviceById = new Map(devices.map((d) => [d.id, d]))
  const transferring = new Set<string>()
  for (const job of data.activeJobs) {
    const deviceId = job.details?.deviceId
    if (job.status === 'running' && typeof deviceId === 'string') transferring.add(deviceId)
  }
  const links: SceneLink[] = []

  for (const a of data.agents) {
    for (const id of referencedIds(a.configuration, deviceById)) {
      const device = deviceById.get(id)!
      const agent = agentById.get(a.id)!
      links.push({
        id: `${a.id}>${id}`,
        kind: 'agent-device',
        source: a.id,
        target: id,
        active:
          agent.status === 'running' &&
          device.status === 'connected' &&
          (device.pulse > 0 || transferring.has(id)),
      })
    }
  }

  for (const t of data.tasks) {
    const running = data.runningTaskIds.has(t.id)
    // A task links to every agent and device its payload names.
    const linkTo = (id: string, kind: LinkKind, active: boolean) =>
      links.push({ id: `${t.id}>${id}`, kind, source: t.id, target: id, label: t.name, active })
    for (const id of referencedIds(t.payload, agentById)) linkTo(id, 'task-agent', running)
    for (const id of referencedIds(t.payload, deviceById))
      linkTo(id, 'task-device', running || transferring.has(id))
  }
  return links
}

function referencedIds(
  value: unknown,
  known: Map<string, unknown>,
  found = new Set<string>(),
  depth = 0,
): Set<string> {
  if (depth > 8 || value === null || value === undefined) return found
  if (typeof value === 'string') {
    if (known.has(value)) found.add(value)
  } else if (Array.isArray(value)) {
    for (const v of value) referencedIds(v, known, found, depth + 1)
  } else if (typeof value === 'object') {
    for (const v of Object.values(value)) referencedIds(v, known, found, depth + 1)
  }
  return found
}

function countBy(items: { status: string }[], statuses: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(statuses.map((s) => [s, 0]))
  for (const item of items) out[item.status] = (out[item.status] ?? 0) + 1
  return out
}

function round1(n: number): number {
  return Math.round(n * 10) / 10
}
