// The jobs of Myntrix processes that are gone: ended, so a job never stays
// `running` for a process that will not end it (`interrupted` when it kept a
// checkpoint to restart from, else `failed`). A process is gone when its
// pid is gone on this host, or its heartbeat in `nodes` is stale
// (src/process/liveness.ts).

import type { InstanceRegistry } from '../../process/liveness.js'
import type { JobsRepository } from './repository.js'

/**
 * A peer whose heartbeat is older than this is gone: six of the default
 * 5 s heartbeats, and never less than four of the configured ones (a process
 * with work in flight beats at least every two).
 */
export const INSTANCE_STALE_MS = 30_000

export class InterruptedJobs {
  private readonly staleMs: number

  constructor(
    private readonly repository: JobsRepository,
    private readonly instances: InstanceRegistry,
    /** This process: its own jobs are never failed here. */
    private readonly self: string,
    heartbeatMs: number,
  ) {
    this.staleMs = Math.max(INSTANCE_STALE_MS, 4 * heartbeatMs)
  }

  /** Ends the active jobs of gone processes; returns how many. */
  async fail(reason: string, now: Date): Promise<number> {
    let dead: string[]
    try {
      dead = await this.instances.deadOnThisHost()
    } catch {
      // Without the list of processes nothing can be called orphaned: try again next time.
      return 0
    }
    return this.repository.failOrphaned(reason, now, this.self, new Date(now.getTime() - this.staleMs), dead)
  }
}
