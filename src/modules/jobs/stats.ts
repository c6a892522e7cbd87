// Job statistics: how many jobs ended how, and how long they ran, grouped by
// device, type, who started them or day (UTC), over a range of creation
// times. One grouped query per call (the database counts, not this process);
// the rows are pivoted into one entry per group here.

import { sql } from 'kysely'
import type { Database, DbEngine } from '../../db/types.js'
import { fromDbInt, toDbTime } from '../../db/values.js'
import { JOB_STATUSES, type JobStatus } from './types.js'

export const JOB_STATS_GROUPS = ['device', 'type', 'user', 'day'] as const
export type JobStatsGroupBy = (typeof JOB_STATS_GROUPS)[number]

export interface JobStatsFilter {
  groupBy: JobStatsGroupBy
  /** null: every job (admins); otherwise the caller's jobs plus ownerless system jobs. */
  ownerId: string | null
  /** Jobs created at or after `from` and before `to`. */
  from: Date | null
  to: Date | null
}

export interface JobStatsGroup {
  /** The device id, job type, starter (`user:<id>`, `api-key:<id>`, `scheduler`, `queue`) or day `YYYY-MM-DD`; null: none recorded. */
  key: string | null
  total: number
  /** Every status, zeros included. */
  byStatus: Record<JobStatus, number>
  /** Sum of finishedAt - startedAt over the group's finished jobs that started. */
  runTimeMs: number
}

/** The grouping expression per engine (times are ISO text on SQLite, timestamptz on PostgreSQL). */
function keyOf(groupBy: JobStatsGroupBy, engine: DbEngine) {
  const postgres = engine === 'postgres'
  switch (groupBy) {
    case 'device':
      return postgres ? sql<string>`details->>'deviceId'` : sql<string>`json_extract(details, '$.deviceId')`
    case 'type':
      return sql<string>`type`
    case 'user':
      return sql<string>`started_by`
    case 'day':
      return postgres
        ? sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`
        : sql<string>`substr(created_at, 1, 10)`
  }
}

function runTimeOf(engine: DbEngine) {
  return engine === 'postgres'
    ? sql<number>`coalesce(sum(extract(epoch from (finished_at - started_at)) * 1000), 0)`
    : sql<number>`coalesce(sum((julianday(finished_at) - julianday(started_at)) * 86400000.0), 0)`
}

export async function jobStats(
  db: Database,
  engine: DbEngine,
  filter: JobStatsFilter,
): Promise<JobStatsGroup[]> {
  const key = keyOf(filter.groupBy, engine)
  let query = db
    .selectFrom('jobs')
    .select([key.as('key'), 'status', (eb) => eb.fn.countAll().as('n'), runTimeOf(engine).as('runTimeMs')])
  if (filter.ownerId !== null) {
    const ownerId = filter.ownerId
    query = query.where((eb) => eb.or([eb('ownerId', '=', ownerId), eb('ownerId', 'is', null)]))
  }
  if (filter.from) query = query.where('createdAt', '>=', toDbTime(filter.from))
  if (filter.to) query = query.where('createdAt', '<', toDbTime(filter.to))
  const rows = await query.groupBy([key, 'status']).execute()

  const groups = new Map<string | null, JobStatsGroup>()
  for (const row of rows) {
    const k = row.key === null || row.key === undefined ? null : String(row.key)
    let group = groups.get(k)
    if (!group) {
      group = {
        key: k,
        total: 0,
        byStatus: Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>,
        runTimeMs: 0,
      }
      groups.set(k, group)
    }
    const n = fromDbInt(row.n)
    group.total += n
    if ((JOB_STATUSES as readonly string[]).includes(row.status)) group.byStatus[row.status as JobStatus] += n
    group.runTimeMs += Number(row.runTimeMs)
  }
  for (const group of groups.values()) group.runTimeMs = Math.round(group.runTimeMs)
  // Keys in order (days ascending), the group without a key last.
  return [...groups.values()].sort((a, b) =>
    a.key === b.key ? 0 : a.key === null ? 1 : b.key === null ? -1 : a.key < b.key ? -1 : 1,
  )
}
