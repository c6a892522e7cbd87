// Whether this process is alive, as the other Myntrix processes on the same
// database see it: its row in `nodes` with a fresh heartbeat.
// Peers take a process whose heartbeat is stale for dead and end the task runs
// and jobs it left (the scheduler's and the jobs ledger's reapers).
//
// A process with nothing in flight leaves nothing to end, so it need not beat:
// the heartbeat runs only while some work is held (hold()), and ensureFresh()
// renews it before new work is recorded. An idle process therefore writes
// nothing and does not wake (on an SD card that is ~17,000 writes a day
// saved). Its row may go stale and be removed by a peer meanwhile;
// ensureFresh() puts it back (and announces it, so idle peers learn that
// there is someone to watch).
//
// The order is what makes this safe: the beat commits before the work's own
// row, and a holder beats every intervalMs. ensureFresh() accepts a beat up
// to 1.5 intervals old, so a run or job starts with a heartbeat at most that
// old plus the time its write waited for a lock (SQLite's busy timeout is 5 s),
// and the hold's first beat follows at once: inside the staleness the
// reapers allow (4 intervals for runs, at least 4 and 30 s for jobs).
//
// The timed beats go on for one interval after the last release: a scheduler
// firing every second releases between firings, and its beats then land
// between them instead of in the claim before a due time.

import os from 'node:os'
import type { Kysely } from 'kysely'
import { announceChange } from '../db/change-feed.js'
import { rawQuery, typed } from '../db/raw.js'
import type { DB, DbEngine } from '../db/types.js'
import { toDbTime } from '../db/values.js'
import { pidAlive } from './pid.js'

export interface LivenessOptions {
  /** Writes the heartbeat (registering the process if its row is gone). */
  beat: () => Promise<void>
  /** Removes the process's row at a clean stop. */
  remove?: () => Promise<void>
  intervalMs: number
  onError?: (err: unknown) => void
}

/** A failed beat is tried again after this long (or the interval, if shorter), not at once. */
const RETRY_AFTER_FAILURE_MS = 1000

export class ProcessLiveness {
  readonly intervalMs: number
  private readonly opts: LivenessOptions
  private holds = 0
  /** When the last successful beat started (a conservative age). */
  private lastBeatMs = Number.NEGATIVE_INFINITY
  private lastFailureMs = Number.NEGATIVE_INFINITY
  private lastReleaseMs = Number.NEGATIVE_INFINITY
  private timer: NodeJS.Timeout | null = null
  private beating: Promise<void> | null = null
  private stopped = false

  constructor(options: LivenessOptions) {
    this.opts = options
    this.intervalMs = options.intervalMs
  }

  /** Keeps the heartbeat going until the returned release is called (once; more calls are no-ops). */
  hold(): () => void {
    this.holds++
    this.arm()
    let released = false
    return () => {
      if (released) return
      released = true
      this.holds--
      this.lastReleaseMs = Date.now()
    }
  }

  /**
   * Beats now unless the last beat is younger than 1.5 intervals (a held
   * process beats every interval, so this writes only after an idle spell).
   * Await it before recording new work.
   */
  ensureFresh(): Promise<void> {
    if (Date.now() - this.lastBeatMs < 1.5 * this.intervalMs) return Promise.resolve()
    return this.beat()
  }

  /** One heartbeat write; concurrent callers share it. */
  beat(): Promise<void> {
    if (!this.beating) {
      const started = Date.now()
      this.beating = this.opts
        .beat()
        .then(
          () => {
            this.lastBeatMs = started
          },
          (err) => {
            this.lastFailureMs = Date.now()
            throw err
          },
        )
        .finally(() => {
          this.beating = null
        })
    }
    return this.beating
  }

  /** Idempotent: no more beats; waits for one in flight, then removes the process's row. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.beating?.catch(() => {})
    await this.opts.remove?.().catch((err) => this.opts.onError?.(err))
  }

  private arm(): void {
    if (this.timer || this.stopped) return
    const now = Date.now()
    const waitMs = Math.max(
      0,
      this.lastBeatMs + this.intervalMs - now,
      this.lastFailureMs + Math.min(this.intervalMs, RETRY_AFTER_FAILURE_MS) - now,
    )
    this.timer = setTimeout(() => {
      this.timer = null
      if (this.stopped || (this.holds === 0 && Date.now() - this.lastReleaseMs > this.intervalMs)) return
      this.beat()
        .catch((err) => this.opts.onError?.(err))
        .finally(() => this.arm())
    }, waitMs)
    this.timer.unref()
  }
}

/** The row of `nodes` that stands for one process (a node: one Myntrix server process). */
export class InstanceRegistry {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly engine: DbEngine,
  ) {}

  /** Marks the process alive at `at`; inserts its row (and announces it) when the row is gone. */
  async heartbeat(id: string, at: Date, info = { hostname: os.hostname(), pid: process.pid }): Promise<void> {
    const t = typed(this.engine, 'timestamptz')
    const updated = await rawQuery<{ id: string }>(
      this.db,
      this.engine,
      `update nodes set heartbeat_at = ${t} where id = ? returning id`,
      [toDbTime(at), id],
    )
    if (updated.length > 0) return
    await rawQuery(
      this.db,
      this.engine,
      `insert into nodes (id, hostname, pid, started_at, heartbeat_at) values (?, ?, ?, ${t}, ${t})`,
      [id, info.hostname, info.pid, toDbTime(at), toDbTime(at)],
    )
    await announceChange(this.db, this.engine)
  }

  async remove(id: string): Promise<void> {
    await rawQuery(this.db, this.engine, 'delete from nodes where id = ?', [id])
  }

  /** Processes on this host whose pid no longer exists: dead now, whatever their heartbeat says. */
  async deadOnThisHost(): Promise<string[]> {
    const rows = await rawQuery<{ id: string; pid: number | string | null }>(
      this.db,
      this.engine,
      'select id, pid from nodes where hostname = ?',
      [os.hostname()],
    )
    return rows.filter((r) => r.pid !== null && !pidAlive(Number(r.pid))).map((r) => r.id)
  }
}

/** This process's liveness on its database, beating `intervalMs` apart while held. */
export function processLiveness(
  registry: InstanceRegistry,
  instanceId: string,
  intervalMs: number,
  onError?: (err: unknown) => void,
): ProcessLiveness {
  return new ProcessLiveness({
    beat: () => registry.heartbeat(instanceId, new Date()),
    remove: () => registry.remove(instanceId),
    intervalMs,
    onError,
  })
}
