import { describe, expect, it } from 'vitest'
import {
  distance,
  MIN_DISTANCE,
  place,
  slotsPerLayer,
  type Vec3,
} from '../../../src/modules/visualization/layout.js'
import {
  AGENT_COLORS,
  agentAnimation,
  agentColor,
  DEVICE_COLORS,
  deviceColor,
  devicePulse,
  emissiveIntensity,
  orbitSpeed,
  UNKNOWN_COLOR,
} from '../../../src/modules/visualization/palette.js'

describe('scene geometry', () => {
  it('keeps 1,000 agents on one ring and 1,000 devices on one ring at least MIN_DISTANCE apart', () => {
    for (const kind of ['agent', 'device'] as const) {
      const points: Vec3[] = []
      for (let slot = 0; slot < 1000; slot++) points.push(place(kind, 0, slot).position)
      let min = Number.POSITIVE_INFINITY
      for (let i = 0; i < points.length; i++) {
        for (let j = i + 1; j < points.length; j++) min = Math.min(min, distance(points[i]!, points[j]!))
      }
      expect(min).toBeGreaterThanOrEqual(MIN_DISTANCE)
    }
  })

  it('keeps neighbouring rings apart', () => {
    const a = place('agent', 0, 0).position
    const b = place('agent', 1, 0).position
    expect(distance(a, b)).toBeGreaterThanOrEqual(MIN_DISTANCE)
    expect(place('device', 0, 0).radius).toBeGreaterThan(place('agent', 7, 0).radius)
  })

  it('is a pure function of ring and slot', () => {
    expect(place('agent', 2, 17)).toEqual(place('agent', 2, 17))
    expect(slotsPerLayer(10)).toBeGreaterThan(3)
  })
})

describe('palette', () => {
  it('maps every status to its documented colour', () => {
    expect(agentColor('running')).toBe('#22c55e')
    expect(agentColor('error')).toBe('#ef4444')
    expect(agentColor('stopped')).toBe('#64748b')
    expect(agentColor('starting')).toBe('#eab308')
    expect(deviceColor('connected')).toBe('#22c55e')
    expect(deviceColor('disconnected')).toBe('#64748b')
    expect(deviceColor('error')).toBe('#ef4444')
    expect(agentColor('weird')).toBe(UNKNOWN_COLOR)
    expect(Object.keys(AGENT_COLORS).sort()).toEqual(
      ['error', 'restarting', 'running', 'starting', 'stopped', 'stopping'].sort(),
    )
    expect(Object.keys(DEVICE_COLORS).sort()).toEqual(['connected', 'connecting', 'disconnected', 'error'])
  })

  it('derives glow from health, speed from CPU, animation from status', () => {
    expect(emissiveIntensity(100, 'running')).toBe(1)
    expect(emissiveIntensity(0, 'running')).toBe(0.2)
    expect(emissiveIntensity(50, 'running')).toBeCloseTo(0.6)
    expect(orbitSpeed(0, 'running')).toBe(0.05)
    expect(orbitSpeed(100, 'running')).toBe(1)
    expect(orbitSpeed(250, 'running')).toBe(1)
    expect(orbitSpeed(50, 'stopped')).toBe(0)
    expect(agentAnimation('running')).toBe('orbit')
    expect(agentAnimation('error')).toBe('blink')
    expect(agentAnimation('restarting')).toBe('pulse')
    expect(agentAnimation('stopped')).toBe('idle')
  })

  it('fades a device pulse over ten seconds', () => {
    const now = new Date('2026-01-01T00:00:10Z')
    expect(devicePulse(new Date('2026-01-01T00:00:10Z'), now)).toBe(1)
    expect(devicePulse(new Date('2026-01-01T00:00:05Z'), now)).toBe(0.5)
    expect(devicePulse(new Date('2025-12-31T00:00:00Z'), now)).toBe(0)
    expect(devicePulse(null, now)).toBe(0)
  })
})
