// Runtimes by name: a new one is one file plus one entry here.

import { DockerRuntime } from './docker.js'
import { ProcessRuntime } from './process.js'
import type { AgentRuntime } from './types.js'

export const runtimes: Record<string, () => AgentRuntime> = {
  process: () => new ProcessRuntime(),
  docker: () => new DockerRuntime({ host: process.env.MYNTRIX_DOCKER_HOST }),
}

export type { AgentRuntime } from './types.js'
