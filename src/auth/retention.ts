// Housekeeping for credentials and the audit log, hourly: sessions and
// logged-out tokens past their own expiry (they are refused anyway; the rows
// only take space), and audit rows older than MYNTRIX_AUDIT_RETENTION_DAYS
// (0 keeps every row). Deletes run in small batches with a turn of the event
// loop after each statement (src/db/housekeeping.ts). Every process prunes;
// the deletes are idempotent.

import { drainBatches, PeriodicPass } from '../db/housekeeping.js'
import type { Logger } from '../logger.js'
import type { AuditLog } from './audit.js'
import type { AuthService } from './service.js'

export interface AuthRetentionOptions {
  auth: AuthService
  audit: AuditLog
  /** Audit rows older than this many days are deleted; 0 keeps all. */
  auditDays: number
  logger: Logger
  /** Default hourly. */
  intervalMs?: number
  /** Rows per delete statement; default 500. */
  batch?: number
  now?: () => number
}

const DAY_MS = 86_400_000

export interface Pruned {
  sessions: number
  tokens: number
  audit: number
}

export class AuthRetention {
  private readonly batch: number
  private readonly periodic: PeriodicPass

  constructor(private readonly opts: AuthRetentionOptions) {
    this.batch = opts.batch ?? 500
    this.periodic = new PeriodicPass(async () => {
      try {
        const n = await this.prune()
        if (n.sessions + n.tokens + n.audit > 0)
          this.opts.logger.info(n, 'auth: pruned expired sessions, logged-out tokens and old audit rows')
      } catch (err) {
        this.opts.logger.error({ err }, 'auth: pruning failed')
      }
    }, opts.intervalMs ?? 3_600_000)
  }

  /** Prunes now, then every intervalMs. */
  start(): void {
    this.periodic.start()
  }

  /** Idempotent; waits for a prune in progress to reach its next batch boundary. */
  async stop(): Promise<void> {
    await this.periodic.stop()
  }

  /** One full pass; returns how many rows of each kind went. */
  async prune(): Promise<Pruned> {
    const pruned: Pruned = { sessions: 0, tokens: 0, audit: 0 }
    const { auth, audit, auditDays } = this.opts
    pruned.sessions = await this.drain((n) => auth.pruneExpiredSessions(n))
    pruned.tokens = await this.drain((n) => auth.pruneRevokedTokens(n))
    if (auditDays > 0) {
      const before = new Date((this.opts.now?.() ?? Date.now()) - auditDays * DAY_MS)
      pruned.audit = await this.drain((n) => audit.prune(before, n))
    }
    return pruned
  }

  private drain(step: (limit: number) => Promise<number>): Promise<number> {
    return drainBatches(step, this.batch, () => this.periodic.stopped)
  }
}
