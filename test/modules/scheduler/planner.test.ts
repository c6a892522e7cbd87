// The claim planner with plain values: no database, no clock. Due times,
// misfires (coalesced within the grace, skipped beyond it), the overlap
// policies, daylight-saving changes and a plan made before its due time.

import { describe, expect, it } from 'vitest'
import { parseSchedule } from '../../../src/modules/scheduler/cron.js'
import {
  confirmPlan,
  OVERLAP_SKIPPED,
  type PlanOptions,
  planClaim,
} from '../../../src/modules/scheduler/planner.js'
import type { OverlapPolicy, Task } from '../../../src/modules/scheduler/types.js'

const at = (iso: string) => new Date(iso)
const iso = (d: Date | null) => d?.toISOString() ?? null

function task(over: Partial<Task> & { nextRunAt: Date; schedule: string }): Task {
  return {
    id: 't1',
    name: 't',
    description: null,
    timezone: 'UTC',
    action: 'api',
    payload: { url: 'http://127.0.0.1:1/' },
    enabled: true,
    overlapPolicy: 'skip',
    timeoutMs: null,
    maxRetries: 0,
    retryDelayMs: 0,
    misfireGraceMs: 60_000,
    ownerId: 'u1',
    createdAt: at('2026-01-01T00:00:00Z'),
    updatedAt: at('2026-01-01T00:00:00Z'),
    ...over,
  }
}

function options(t: Task, minGraceMs = 1000): PlanOptions {
  let n = 0
  return {
    claimedBy: 'me',
    newId: () => `run-${++n}`,
    createdAt: at('2026-01-01T00:00:00Z'),
    minGraceMs,
    schedule: parseSchedule(t.schedule),
  }
}

describe('planClaim', () => {
  it('fires a due time still ahead (a plan made before it) and moves to the next occurrence', () => {
    const t = task({ schedule: '*/5 * * * *', nextRunAt: at('2026-06-01T10:05:00Z') })
    const plan = planClaim(t, at('2026-06-01T10:04:59.990Z'), false, options(t))
    expect(iso(plan.expectedDue)).toBe('2026-06-01T10:05:00.000Z')
    expect(iso(plan.nextRunAt)).toBe('2026-06-01T10:10:00.000Z')
    expect(plan.runs).toHaveLength(1)
    expect(plan.runs[0]).toMatchObject({
      id: 'run-1',
      taskId: 't1',
      status: 'running',
      trigger: 'schedule',
      attempt: 1,
      claimedBy: 'me',
    })
    expect(iso(plan.runs[0]?.scheduledFor ?? null)).toBe('2026-06-01T10:05:00.000Z')
    expect(iso(plan.runs[0]?.startTime ?? null)).toBe('2026-06-01T10:04:59.990Z')
  })

  it('fires an occurrence a little late (within the grace) once, with no skipped record', () => {
    const t = task({ schedule: '*/5 * * * *', nextRunAt: at('2026-06-01T10:05:00Z') })
    const plan = planClaim(t, at('2026-06-01T10:05:00.300Z'), false, options(t))
    expect(plan.runs.map((r) => r.status)).toEqual(['running'])
    expect(iso(plan.nextRunAt)).toBe('2026-06-01T10:10:00.000Z')
  })

  it('coalesces missed occurrences within the grace into one firing of the latest', () => {
    const t = task({ schedule: '* * * * *', nextRunAt: at('2026-06-01T10:00:00Z'), misfireGraceMs: 600_000 })
    const plan = planClaim(t, at('2026-06-01T10:03:30Z'), false, options(t))
    expect(plan.runs.map((r) => r.status)).toEqual(['skipped', 'running'])
    expect(plan.runs[0]?.error).toBe(
      'coalesced: 4 missed occurrences from 2026-06-01T10:00:00.000Z run once, as 2026-06-01T10:03:00.000Z',
    )
    expect(iso(plan.runs[1]?.scheduledFor ?? null)).toBe('2026-06-01T10:03:00.000Z')
    expect(iso(plan.nextRunAt)).toBe('2026-06-01T10:04:00.000Z')
  })

  it('records occurrences beyond the grace as missed and fires the latest one inside it', () => {
    const t = task({ schedule: '* * * * *', nextRunAt: at('2026-06-01T09:00:00Z'), misfireGraceMs: 90_000 })
    const plan = planClaim(t, at('2026-06-01T10:00:30Z'), false, options(t))
    expect(plan.runs.map((r) => r.status)).toEqual(['skipped', 'running'])
    expect(plan.runs[0]?.error).toBe(
      'missed: occurrences from 2026-06-01T09:00:00.000Z were more than misfireGraceMs (90000 ms) late; the latest, 2026-06-01T10:00:00.000Z, runs instead',
    )
    expect(iso(plan.runs[1]?.scheduledFor ?? null)).toBe('2026-06-01T10:00:00.000Z')
  })

  it('records only the miss when no occurrence is inside the grace', () => {
    const t = task({ schedule: '0 * * * *', nextRunAt: at('2026-06-01T09:00:00Z'), misfireGraceMs: 0 })
    const plan = planClaim(t, at('2026-06-01T09:30:00Z'), false, options(t))
    expect(plan.runs.map((r) => r.status)).toEqual(['skipped'])
    expect(plan.runs[0]?.error).toContain('were more than misfireGraceMs (1000 ms) late')
    expect(plan.runs[0]?.error).not.toContain('runs instead')
    expect(iso(plan.nextRunAt)).toBe('2026-06-01T10:00:00.000Z')
  })

  it('uses the smallest grace when the task asks for less: claim jitter is not a misfire', () => {
    const t = task({ schedule: '* * * * *', nextRunAt: at('2026-06-01T10:00:00Z'), misfireGraceMs: 0 })
    expect(
      planClaim(t, at('2026-06-01T10:00:00.500Z'), false, options(t, 1000)).runs.map((r) => r.status),
    ).toEqual(['running'])
    expect(
      planClaim(t, at('2026-06-01T10:00:00.500Z'), false, options(t, 100)).runs.map((r) => r.status),
    ).toEqual(['skipped'])
  })

  it.each<[OverlapPolicy, string, string | null]>([
    ['skip', 'skipped', OVERLAP_SKIPPED],
    ['queue', 'pending', null],
    ['allow', 'running', null],
  ])('a busy task under overlapPolicy %s: the firing is %s', (overlapPolicy, status, error) => {
    const t = task({ schedule: '*/5 * * * *', nextRunAt: at('2026-06-01T10:05:00Z'), overlapPolicy })
    const plan = planClaim(t, at('2026-06-01T10:05:00Z'), true, options(t))
    expect(plan.runs).toHaveLength(1)
    expect(plan.runs[0]).toMatchObject({ status, error })
    expect(iso(plan.nextRunAt)).toBe('2026-06-01T10:10:00.000Z')
  })

  it('follows the time zone across the spring-forward gap and the autumn repeat', () => {
    // Europe/Berlin: 02:30 does not exist on 2026-03-29 and runs at 03:00 CEST (01:00Z).
    const spring = task({
      schedule: '30 2 * * *',
      timezone: 'Europe/Berlin',
      nextRunAt: at('2026-03-28T01:30:00Z'),
    })
    const springPlan = planClaim(spring, at('2026-03-28T01:30:00Z'), false, options(spring))
    expect(iso(springPlan.nextRunAt)).toBe('2026-03-29T01:00:00.000Z')
    // 02:30 happens twice on 2026-10-25; the task fires once, then the next day.
    const autumn = task({
      schedule: '30 2 * * *',
      timezone: 'Europe/Berlin',
      nextRunAt: at('2026-10-25T00:30:00Z'),
    })
    const autumnPlan = planClaim(autumn, at('2026-10-25T00:30:00Z'), false, options(autumn))
    expect(iso(autumnPlan.nextRunAt)).toBe('2026-10-26T01:30:00.000Z')
  })

  it('a yearly schedule moves on by a year', () => {
    const t = task({ schedule: '0 0 1 1 *', nextRunAt: at('2026-01-01T00:00:00Z') })
    const plan = planClaim(t, at('2026-01-01T00:00:00Z'), false, options(t))
    expect(iso(plan.nextRunAt)).toBe('2027-01-01T00:00:00.000Z')
  })
})

describe('confirmPlan', () => {
  it('keeps a plan made before the due time and starts its runs at the claim', () => {
    const t = task({ schedule: '*/5 * * * *', nextRunAt: at('2026-06-01T10:05:00Z') })
    const ready = planClaim(t, at('2026-06-01T10:05:00Z'), false, options(t))
    const confirmed = confirmPlan(ready, t, at('2026-06-01T10:05:00.004Z'), false, options(t))
    expect(confirmed).toBe(ready)
    expect(iso(confirmed.runs[0]?.startTime ?? null)).toBe('2026-06-01T10:05:00.004Z')
  })

  it('plans again when the task turned out busy, or nothing was planned', () => {
    const t = task({ schedule: '*/5 * * * *', nextRunAt: at('2026-06-01T10:05:00Z') })
    const ready = planClaim(t, at('2026-06-01T10:05:00Z'), false, options(t))
    const busy = confirmPlan(ready, t, at('2026-06-01T10:05:00.004Z'), true, options(t))
    expect(busy).not.toBe(ready)
    expect(busy.runs[0]?.status).toBe('skipped')
    const fresh = confirmPlan(undefined, t, at('2026-06-01T10:05:00.004Z'), false, options(t))
    expect(fresh.runs[0]?.status).toBe('running')
  })
})
