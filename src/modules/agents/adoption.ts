// After a server was killed, its containers keep running (the engine holds them, not
// the server). At the next start they are found by label, before any agent starts:
// a container whose agent should run is adopted as it is (no restart, no second copy);
// every other one (agent stopped, deleted, changed to a process, or the container
// already ended) is stopped and removed. Only this node's containers are listed
// (by the node-name label); in a cluster a container is adopted only when this
// node also takes the agent's lease (`claim`), else it is removed too, so a
// peer that holds the agent now keeps the only copy.

import type { Logger } from '../../logger.js'
import { normalizeAgentConfig, validateAgentConfig } from './config.js'
import type { AgentRecord } from './repository.js'
import type { AdoptedProcess } from './runtimes/types.js'
import type { Supervisor } from './supervisor.js'

export interface AdoptionDeps {
  supervisor: Supervisor
  logger: Logger
  /** What the runtimes found (containers by label); fails when the engine is away. */
  find: () => Promise<AdoptedProcess[]>
  /** null when the agent may start (see StartRules.startRefusal), else why not. */
  refusal: (record: AgentRecord) => Promise<string | null>
  /** In a cluster: takes the agent's lease for this node; false when it may not hold the agent now. */
  claim?: (record: AgentRecord) => Promise<boolean>
}

/** Returns the ids of the agents adopted; their recorded process must not be ended. */
export async function adoptLeftovers(
  deps: AdoptionDeps,
  records: readonly AgentRecord[],
): Promise<Set<string>> {
  const adopted = new Set<string>()
  let found: AdoptedProcess[]
  try {
    found = await deps.find()
  } catch (err) {
    // No engine: process agents go on; container agents fail at their start with the reason.
    deps.logger.info({ err }, 'no container engine to look for containers left by the previous server')
    return adopted
  }
  const byId = new Map(records.map((r) => [r.id, r]))
  for (const leftover of found) {
    const record = byId.get(leftover.agentId)
    const config =
      record && validateAgentConfig(record.configuration).length === 0 ? record.configuration : null
    const wanted =
      record?.desiredState === 'running' &&
      leftover.running &&
      !adopted.has(leftover.agentId) &&
      config !== null &&
      normalizeAgentConfig(config).container !== null &&
      (await deps.refusal(record)) === null &&
      (deps.claim === undefined || (await deps.claim(record)))
    if (wanted) {
      await deps.supervisor.adopt(record.id, config, leftover.process, { restarts: record.restarts })
      adopted.add(record.id)
      deps.logger.info({ agentId: record.id, container: leftover.process.containerId }, 'adopted container')
    } else {
      const timeoutMs = config ? normalizeAgentConfig(config).stopTimeoutMs : 10_000
      await leftover.process.stop(timeoutMs)
      deps.logger.warn(
        { agentId: leftover.agentId, container: leftover.process.containerId },
        'removed a container left by the previous server',
      )
    }
  }
  return adopted
}
