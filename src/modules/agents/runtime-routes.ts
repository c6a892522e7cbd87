// GET /api/myntrix/runtimes: where agents can run on this server, and whether each
// runtime is ready (the Docker engine reachable, with its version).

import { Type } from '@sinclair/typebox'
import type { AppInstance } from '../area.js'
import type { DockerRuntime } from './runtimes/docker.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const RuntimeStateSchema = Type.Object({
  name: Type.Union([Type.Literal('process'), Type.Literal('docker')]),
  available: Type.Boolean(),
  reason: Nullable(Type.String({ description: 'why it is not available' })),
  version: Nullable(Type.String({ description: "the engine's version (docker)" })),
  endpoint: Nullable(Type.String({ description: 'MYNTRIX_DOCKER_HOST (docker)' })),
})

export function runtimeRoutes(app: AppInstance, docker: DockerRuntime): void {
  app.get(
    '/api/myntrix/runtimes',
    {
      schema: {
        tags: ['agents'],
        summary: 'The agent runtimes of this server: process always, docker when its engine answers',
        response: { 200: Type.Array(RuntimeStateSchema) },
      },
    },
    async () => {
      const engine = await docker.status()
      return [
        { name: 'process' as const, available: true, reason: null, version: null, endpoint: null },
        {
          name: 'docker' as const,
          available: engine.reachable,
          reason: engine.reachable ? null : engine.reason,
          version: engine.reachable ? engine.version : null,
          endpoint: docker.host,
        },
      ]
    },
  )
}
