// What a live node does about agents a lost node left (docs/SCALE-OUT.md,
// "What each failure does"). A node is lost once its membership lapsed: it was
// killed, or is paused. Its recorded agent processes may still run, unmanaged.
// - endLostProcess: before an unpinned agent is taken over, the process the
//   lost node recorded for it is ended when it runs on this host (pid + start
//   time + the same boot id, as orphan reaping checks; a process of another
//   host is left to that host), so exactly one copy runs afterwards.
// - reportNodeLost: an agent pinned to a lost node is not taken over (its
//   command and cwd are that host's); it is reported `error` with a reason
//   starting `node lost`, guarded so it never overwrites a holder's state.

import type { RawBuilder } from 'kysely'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import { endOrphan } from '../../process/orphans.js'
import type { AgentRecord, AgentsRepository } from './repository.js'
import { normalizedStopTimeout } from './stopped-state.js'

export const NODE_LOST = 'node lost'

/** Whether the agent's recorded process was started by a node that is no longer alive (and is not this one). */
export function recordedByLostNode(r: AgentRecord, liveNames: ReadonlySet<string>, self: string): boolean {
  return (
    r.process !== null && r.processNode !== null && r.processNode !== self && !liveNames.has(r.processNode)
  )
}

/** Ends the lost node's process of the agent if it runs on this host; true when signals were sent. */
export async function endLostProcess(r: AgentRecord, logger: Logger): Promise<boolean> {
  if (!r.process) return false
  const result = await endOrphan(r.process, normalizedStopTimeout(r.configuration))
  if (result.ended) {
    logger.warn(
      { agentId: r.id, pid: r.process.pid, node: r.processNode, killed: result.killed },
      `ended the process a lost node ("${r.processNode}") left running`,
    )
  }
  return result.ended
}

export interface NodeLostReport {
  repository: AgentsRepository
  bus: EventBus
  logger: Logger
  /** True while nobody holds the agent's lease: the write's guard. */
  unheld: RawBuilder<boolean>
}

/** Reports an agent pinned to a lost node; a report already made is not written again. */
export async function reportNodeLost(
  r: AgentRecord,
  processEnded: boolean,
  deps: NodeLostReport,
): Promise<void> {
  const node = r.nodeAffinity ?? r.processNode ?? 'unknown'
  const reported = r.status === 'error' && r.statusReason?.startsWith(NODE_LOST) === true
  if (reported && !processEnded) return
  const reason = `${NODE_LOST}: node "${node}" stopped renewing its membership; the agent runs only there and starts again when it is back`
  const written = await deps.repository.markNodeLost(r.id, reason, processEnded, deps.unheld)
  if (!written) return
  deps.logger.warn({ agentId: r.id, node }, reason)
  deps.bus.emit('agent.status', {
    agentId: r.id,
    ownerId: r.ownerId,
    status: 'error',
    health: 0,
    pid: processEnded ? null : (r.process?.pid ?? null),
    reason,
  })
}
