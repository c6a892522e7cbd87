// Orphan recovery. After the server was killed with SIGKILL its agents and script
// task processes keep running (they are in their own process groups). The next
// server (or a peer's reaper) finds them from the recorded identity (identity.ts)
// and ends them before it starts agents afresh or fails the runs.

import type { ProcessIdentity } from './identity.js'
import { groupMembers, isGroupAlive, readBootId, readProcStat } from './proc.js'

/** How long after SIGKILL a group that will not go is still waited for. */
const GIVE_UP_AFTER_KILL_MS = 5000

export type OrphanVerdict =
  /** The recorded leader still runs: same pid, same start time, same boot. */
  | 'leader-alive'
  /** The leader is gone but members of its group (started after it) remain. */
  | 'group-alive'
  /** Nothing of it is left. */
  | 'gone'
  /** The pid now belongs to another process (or another boot): not ours to touch. */
  | 'reused'
  /** No start time was recorded, so ownership cannot be proven: leave it alone. */
  | 'unverifiable'

export function inspectOrphan(record: ProcessIdentity, currentBootId = readBootId()): OrphanVerdict {
  if (record.bootId && currentBootId && record.bootId !== currentBootId) return 'gone'
  if (record.startTicks === null) return 'unverifiable'
  const leader = readProcStat(record.pid)
  if (leader) {
    if (leader.startTicks !== record.startTicks) return 'reused'
    if (leader.state !== 'Z') return 'leader-alive'
    // A dead leader nobody has reaped yet: what matters is whether its group lives on.
    return groupMembers(record.pid).length > 0 ? 'group-alive' : 'gone'
  }
  // The kernel does not reuse a number while it is still some group's id, so group
  // members that started after the recorded leader are the old agent's descendants.
  const members = groupMembers(record.pid).filter((m) => m.startTicks >= (record.startTicks as number))
  return members.length > 0 ? 'group-alive' : 'gone'
}

export interface OrphanResult {
  verdict: OrphanVerdict
  /** True when signals were sent to the group. */
  ended: boolean
  /** True when SIGTERM was not enough within timeoutMs. */
  killed: boolean
}

/** Ends the recorded process group if it still belongs to the agent: SIGTERM, then
 * SIGKILL after `timeoutMs`. Safe to call for a record whose process is long gone. */
export async function endOrphan(
  record: ProcessIdentity,
  timeoutMs: number,
  pollMs = 20,
): Promise<OrphanResult> {
  const verdict = inspectOrphan(record)
  if (verdict !== 'leader-alive' && verdict !== 'group-alive') return { verdict, ended: false, killed: false }
  const pgid = record.pid
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig)
    } catch {
      // already gone
    }
  }
  send('SIGTERM')
  const deadline = Date.now() + timeoutMs
  let killed = false
  // These processes are not our children, so no exit event exists: poll. A group
  // that even SIGKILL cannot end (EPERM: another user's, without CAP_KILL) is given
  // up after a while rather than waited for forever.
  const giveUpAt = deadline + GIVE_UP_AFTER_KILL_MS
  while (isGroupAlive(pgid)) {
    if (Date.now() >= giveUpAt) return { verdict, ended: false, killed }
    if (!killed && Date.now() >= deadline) {
      killed = true
      send('SIGKILL')
    } else if (killed) {
      send('SIGKILL')
    }
    await new Promise((r) => setTimeout(r, pollMs))
  }
  return { verdict, ended: true, killed }
}
