// Runtimes by name: a new one is one file plus one entry here.

import { ProcessRuntime } from './process.js'
import type { AgentRuntime } from './types.js'

export const runtimes: Record<string, () => AgentRuntime> = {
  process: () => new ProcessRuntime(),
}

export type { AgentRuntime } from './types.js'
