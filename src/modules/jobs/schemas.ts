import { Type } from '@sinclair/typebox'
import { ListQuery } from '../../http/list.js'
import { JOB_STATS_GROUPS, type JobStatsGroupBy } from './stats.js'
import { JOB_STATUSES, type Job } from './types.js'

export const JobStatusSchema = Type.Union(
  JOB_STATUSES.map((s) => Type.Literal(s)),
  { description: JOB_STATUSES.join(' | ') },
)

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

const jobProperties = {
  id: Type.String(),
  name: Type.String(),
  type: Type.String({ description: 'what kind of work, e.g. device.upload, task.run' }),
  status: JobStatusSchema,
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  ownerId: Nullable(Type.String()),
  details: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  error: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  startedAt: Nullable(Type.String({ format: 'date-time' })),
  finishedAt: Nullable(Type.String({ format: 'date-time' })),
  checkpoint: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
    description:
      'where the job stood when last written; a device transfer: {lastAckedLine, fileOffset, modalState, at}',
  }),
  restartOf: Nullable(Type.String({ description: 'the job this one restarts' })),
  startedBy: Nullable(
    Type.String({
      description: 'who started it: user:<id>, api-key:<id>, scheduler, queue; null for the server itself',
    }),
  ),
}

export const JobSchema = Type.Object(jobProperties)
export const JobWithLogsSchema = Type.Object({ ...jobProperties, logs: Nullable(Type.String()) })

export const JobListQuery = Type.Object({
  ...ListQuery.properties,
  status: Type.Optional(
    Type.Array(Type.String({ maxLength: 200 }), {
      description:
        'filter by status; repeat or comma-separate (running,pending). Without status or since: active jobs plus those finished in the last 24 h',
    }),
  ),
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  since: Type.Optional(Type.String({ description: 'ISO-8601: only jobs updated at or after this time' })),
})

export const JobStatsQuery = Type.Object({
  groupBy: Type.Optional(
    Type.Unsafe<JobStatsGroupBy>({
      type: 'string',
      enum: [...JOB_STATS_GROUPS],
      description: 'device | type | user (who started the job) | day (UTC, of its creation); default type',
    }),
  ),
  from: Type.Optional(Type.String({ description: 'ISO-8601: jobs created at or after this time' })),
  to: Type.Optional(Type.String({ description: 'ISO-8601: jobs created before this time' })),
})

const count = Type.Integer({ minimum: 0 })
export const JobStatsSchema = Type.Object({
  groupBy: Type.String(),
  from: Nullable(Type.String({ format: 'date-time' })),
  to: Nullable(Type.String({ format: 'date-time' })),
  groups: Type.Array(
    Type.Object({
      key: Nullable(
        Type.String({
          description:
            'device id, job type, user:<id> | api-key:<id> | scheduler | queue, or YYYY-MM-DD; null: none',
        }),
      ),
      total: count,
      byStatus: Type.Object(Object.fromEntries(JOB_STATUSES.map((s) => [s, count]))),
      runTimeMs: Type.Integer({
        minimum: 0,
        description: 'sum of finishedAt - startedAt of its finished jobs',
      }),
    }),
  ),
})

export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })

export interface JobView {
  id: string
  name: string
  type: string
  status: Job['status']
  progress: number
  ownerId: string | null
  details: Record<string, unknown> | null
  error: string | null
  createdAt: string
  updatedAt: string
  startedAt: string | null
  finishedAt: string | null
  checkpoint: Record<string, unknown> | null
  restartOf: string | null
  startedBy: string | null
}

export function jobView(job: Job): JobView {
  return {
    id: job.id,
    name: job.name,
    type: job.type,
    status: job.status,
    progress: job.progress,
    ownerId: job.ownerId,
    details: job.details,
    error: job.error,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    checkpoint: job.checkpoint,
    restartOf: job.restartOf,
    startedBy: job.startedBy,
  }
}
