// Ends what dead processes left: their runs (failed if running, skipped if
// never started) and the process groups their `script` runs started on this
// machine. A process is dead when its pid is gone on this host, its
// heartbeat in `nodes` is older than 4 heartbeat intervals
// (src/process/liveness.ts), or it is a cluster node declared lost. Also counts the live peers: while there are
// any, one of them may die, so the engine keeps looking every heartbeat.

import type { Logger } from '../../logger.js'
import { endOrphan } from '../../process/orphans.js'
import { readBootId } from '../../process/proc.js'
import type { SchedulerRepository } from './repository.js'
import type { ReapedRuns } from './sql/reap-orphans.js'

/** SIGTERM to SIGKILL for a script's group left behind by a dead process (a script's default grace). */
const ORPHAN_STOP_TIMEOUT_MS = 2000

export class RunReaper {
  /** When the last look began. */
  lastReapMs = Number.NEGATIVE_INFINITY
  /** Other live processes at the last look. */
  peers = 0

  constructor(
    private readonly repo: SchedulerRepository,
    private readonly instanceId: string,
    private readonly heartbeatMs: number,
    private readonly logger: Logger,
  ) {}

  /** Ends the runs of dead processes and counts the live ones (peers); the failed runs come back to be retried. */
  async reap(): Promise<ReapedRuns> {
    this.lastReapMs = Date.now()
    for (const id of await this.repo.instances.deadOnThisHost()) await this.repo.instances.remove(id)
    const now = Date.now()
    const staleBefore = new Date(now - 4 * this.heartbeatMs)
    // Before their runs are failed (and perhaps retried): a retry must not run beside the old copy.
    await this.endOrphanedProcesses(staleBefore)
    const reaped = await this.repo.reapOrphans(this.instanceId, staleBefore, new Date(now))
    this.peers = reaped.peers
    return reaped
  }

  /**
   * Ends the process groups that runs of dead processes left on this machine
   * (recognised by pid + start time + boot id, so a reused pid is never hit) and
   * forgets them. A group on another machine is left to that machine's next
   * start: its record stays until then.
   */
  private async endOrphanedProcesses(staleBefore: Date): Promise<void> {
    const found = await this.repo.orphanedRunProcesses(this.instanceId, staleBefore)
    if (found.length === 0) return
    const bootId = readBootId()
    const here = found.filter((f) => f.process.bootId === null || f.process.bootId === bootId)
    await Promise.all(
      here.map(async ({ runId, process }) => {
        const result = await endOrphan(process, ORPHAN_STOP_TIMEOUT_MS)
        if (result.ended) {
          this.logger.warn(
            { runId, pid: process.pid, killed: result.killed },
            'scheduler: ended a process group left running by a stopped process',
          )
        }
      }),
    )
    await this.repo.clearRunProcesses(here.map((f) => f.runId))
  }
}
