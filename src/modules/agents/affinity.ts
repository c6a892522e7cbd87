// An agent's nodeAffinity: the node name it runs on, or null for any node
// (docs/SCALE-OUT.md). The name follows MYNTRIX_NODE_NAME's rules, so it can
// always name a node that may exist. The affinity is changed only while the
// agent is stopped: a running agent is held by a node under a lease, and
// moving its pin under it would leave it running where it may no longer run
// (or stop it as a side effect of an edit), so the caller stops it first.

import { nodeAffinitySchema } from '../../cluster/affinity-schema.js'
import { ConflictError } from '../../errors.js'
import { ACTIVE_STATUSES, type AgentStatus } from './agent-entry.js'
import type { AgentRecord } from './repository.js'

export const NodeAffinitySchema = nodeAffinitySchema(
  'the node the agent runs on (its command and cwd are that host’s); null = any node. Default on ' +
    'create: the creating node’s name. Changed only while the agent is stopped.',
)

/** 409 when the agent is meant to run or its process is alive (`status`: the live one if known here). */
export function assertAffinityChangeable(record: AgentRecord, status: AgentStatus): void {
  if (record.desiredState === 'running' || ACTIVE_STATUSES.has(status)) {
    throw new ConflictError(
      `agent ${record.id} is ${record.desiredState === 'running' ? 'meant to run' : status}; ` +
        'stop it before changing its nodeAffinity',
    )
  }
}
