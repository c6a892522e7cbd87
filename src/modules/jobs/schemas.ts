import { Type } from '@sinclair/typebox'
import { ListQuery } from '../../http/list.js'
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
  }
}
