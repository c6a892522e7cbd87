import { MyntrixError } from '../../errors.js'

/** 422: the agent has no command, so there is nothing to start. */
export class AgentNoCommandError extends MyntrixError {
  readonly status = 422
  readonly type = 'agent-no-command'
  constructor(agentId: string) {
    super(`agent ${agentId} has no command to run: set configuration.command first`)
  }
}

/** 422: the operating system refused to start the command (missing program or cwd, no permission). */
export class AgentSpawnError extends MyntrixError {
  readonly status = 422
  readonly type = 'agent-spawn-failed'
  constructor(agentId: string, reason: string, cause?: unknown) {
    super(`agent ${agentId} could not be started: ${reason}`, { cause })
  }
}

/** 503: the agent's runtime is not there (the Docker engine's socket missing or refused). */
export class AgentRuntimeUnavailableError extends MyntrixError {
  readonly status = 503
  readonly type = 'agent-runtime-unavailable'
  constructor(agentId: string, reason: string, cause?: unknown) {
    super(`agent ${agentId} could not be started: ${reason}`, { cause })
  }
}
