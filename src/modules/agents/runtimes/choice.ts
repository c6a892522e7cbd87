// The runtimes a supervisor has, seen as one: a spec with a container goes to the
// container runtime, anything else to local processes. Usage is sampled by each
// runtime for its own processes.

import {
  type AgentRuntime,
  type ResourceUsage,
  type RuntimeProcess,
  RuntimeSpawnError,
  type RuntimeSpec,
} from './types.js'

export class RuntimeChoice implements AgentRuntime {
  readonly name = 'choice'

  /** `containers`: null where this server has no container runtime configured. */
  constructor(
    readonly processes: AgentRuntime,
    readonly containers: AgentRuntime | null,
  ) {}

  spawn(spec: RuntimeSpec): Promise<RuntimeProcess> {
    if (!spec.container) return this.processes.spawn(spec)
    if (!this.containers) {
      return Promise.reject(
        new RuntimeSpawnError('this server has no container runtime', { unavailable: true }),
      )
    }
    return this.containers.spawn(spec)
  }

  usage(processes: readonly RuntimeProcess[]): Map<RuntimeProcess, ResourceUsage> {
    const local = processes.filter((p) => p.containerId === undefined)
    const out = this.processes.usage(local)
    if (this.containers && local.length < processes.length) {
      const contained = processes.filter((p) => p.containerId !== undefined)
      for (const [p, u] of this.containers.usage(contained)) out.set(p, u)
    }
    return out
  }
}
