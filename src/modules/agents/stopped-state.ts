// The state written for an agent whose process is gone, at start-up: after the
// process a killed server left behind was ended, or when a start is refused.

import { normalizeAgentConfig } from './config.js'
import { idleHealth } from './health.js'
import type { AgentRecord, AgentRuntimeState } from './repository.js'

/** The state of an agent whose process is gone (after recovery, or refused at start-up). */
export function stoppedState(r: AgentRecord): AgentRuntimeState {
  return {
    status: r.status === 'error' ? 'error' : 'stopped',
    statusReason: r.statusReason,
    health: 0,
    healthDetails: idleHealth().details,
    process: null,
    startedAt: null,
    restarts: r.restarts,
    lastExit: r.lastExit,
  }
}

export function normalizedStopTimeout(configuration: Record<string, unknown>): number {
  try {
    return normalizeAgentConfig(configuration).stopTimeoutMs
  } catch {
    return 10_000
  }
}
