// The caller's list and stats queries turned into repository filters: the
// query-string rules (statuses, time bounds) and the caller's owner scope, with
// a 400 naming the bad parameter. No database and no clock of its own.

import { ownerScope, type Principal } from '../../auth/principal.js'
import { ValidationError } from '../../errors.js'
import { parseQueryTime } from '../../time.js'
import type { JobListFilter } from './repository.js'
import type { JobStatsFilter, JobStatsGroupBy } from './stats.js'
import { JOB_STATUSES, type JobStatus } from './types.js'

export interface JobListQuery {
  status?: string[]
  type?: string
  since?: string
  limit: number
  offset: number
}

/** `recentSince`: without statuses and since, jobs finished before it are left out. */
export function listFilterOf(principal: Principal, query: JobListQuery, recentSince: Date): JobListFilter {
  return {
    ownerId: ownerScope(principal),
    statuses: parseStatuses(query.status),
    type: query.type,
    since: query.since === undefined ? undefined : parseQueryTime(query.since, 'query.since'),
    recentSince,
    limit: query.limit,
    offset: query.offset,
  }
}

/** 400 for a bad range. */
export function statsFilterOf(
  principal: Principal,
  query: { groupBy?: JobStatsGroupBy; from?: string; to?: string },
): JobStatsFilter {
  const from = query.from === undefined ? null : parseQueryTime(query.from, 'query.from')
  const to = query.to === undefined ? null : parseQueryTime(query.to, 'query.to')
  if (from && to && from.getTime() >= to.getTime()) {
    throw new ValidationError('from must be before to', [{ path: 'query.to', message: 'must be after from' }])
  }
  return { groupBy: query.groupBy ?? 'type', ownerId: ownerScope(principal), from, to }
}

/** `?status=running&status=pending` or `?status=running,pending`. */
function parseStatuses(values: string[] | undefined): JobStatus[] | undefined {
  if (!values?.length) return undefined
  const statuses = values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean)
  const bad = statuses.filter((s) => !(JOB_STATUSES as readonly string[]).includes(s))
  if (bad.length) {
    throw new ValidationError(`status must be one of ${JOB_STATUSES.join(', ')}, got "${bad[0]}"`, [
      { path: 'query.status', message: `must be one of ${JOB_STATUSES.join(', ')}` },
    ])
  }
  return statuses as JobStatus[]
}
