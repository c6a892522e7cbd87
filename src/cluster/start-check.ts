// Whether this process may start beside the nodes already alive on its
// database. Several instances on one PostgreSQL work only when each has the
// Redis bus (forwarded requests, live feeds): an instance without it would take
// its peers' agents for orphans and answer for resources it does not hold. So a
// start that would mix the two is refused with one line, like a bad setting.
//
// A process outside the cluster writes its `nodes` row only while it has work
// in flight (src/process/liveness.ts), so an idle one cannot be seen; a cluster
// node keeps its row fresh at all times and is always seen.

import os from 'node:os'
import { ConfigError } from '../errors.js'
import { pidAlive } from '../process/pid.js'
import type { LiveNode, Membership } from './membership.js'

function describeNode(n: LiveNode): string {
  return `"${n.name}"${n.hostname && n.hostname !== n.name ? ` on ${n.hostname}` : ''}`
}

/** Throws ConfigError when the live peers and this process's Redis setting do not fit together. */
export async function assertMayStart(membership: Membership, hasRedis: boolean): Promise<void> {
  // A row of this host whose process is gone is a killed predecessor, not a peer: its
  // heartbeat may still look fresh, and its work is this start's to recover.
  const host = os.hostname()
  const peers = (await membership.live()).filter(
    (n) => n.id !== membership.node.id && !(n.hostname === host && n.pid !== null && !pidAlive(n.pid)),
  )
  if (!hasRedis) {
    const peer = peers[0]
    if (peer) {
      throw new ConfigError(
        'MYNTRIX_REDIS_URL',
        `is unset, but node ${describeNode(peer)} is alive on this PostgreSQL database: several instances need ` +
          'MYNTRIX_REDIS_URL set on every one of them (docs/SCALE-OUT.md)',
      )
    }
    return
  }
  const outsider = peers.find((n) => !n.clustered)
  if (outsider) {
    throw new ConfigError(
      'MYNTRIX_REDIS_URL',
      `is set, but node ${describeNode(outsider)} runs on this database without it: set MYNTRIX_REDIS_URL on ` +
        'every instance (docs/SCALE-OUT.md)',
    )
  }
}
