import { Type } from '@sinclair/typebox'
import type { DatabaseHandle } from '../db/index.js'
import { UnavailableError } from '../errors.js'
import type { AppInstance } from '../modules/area.js'

export async function systemRoutes(app: AppInstance, deps: { database: DatabaseHandle }): Promise<void> {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['system'],
        summary: 'Liveness: the process is up',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['system'],
        summary: 'Readiness: the database answers',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ready'), database: Type.String() }) },
      },
    },
    async () => {
      try {
        await deps.database.ping()
      } catch (err) {
        throw new UnavailableError(`database unreachable: ${(err as Error).message}`)
      }
      return { status: 'ready' as const, database: deps.database.engine }
    },
  )
}
