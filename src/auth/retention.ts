// Housekeeping for credentials and the audit log, hourly: sessions and
// logged-out tokens past their own expiry (they are refused anyway; the rows
// only take space), and audit rows older than MYNTRIX_AUDIT_RETENTION_DAYS
// (0 keeps every row). Deletes run in small batches with a turn of the event
// loop after each statement (src/db/housekeeping.ts). Every process prunes;
// the deletes are idempotent.

import { drainBatches, type RetentionOptions, RetentionPass } from '../db/housekeeping.js'
import type { AuditLog } from './audit.js'
import type { AuthService } from './service.js'

export interface AuthRetentionOptions extends RetentionOptions {
  auth: AuthService
  audit: AuditLog
  /** Audit rows older than this many days are deleted; 0 keeps all. */
  auditDays: number
  now?: () => number
}

const DAY_MS = 86_400_000

export type Pruned = {
  sessions: number
  tokens: number
  audit: number
}

export class AuthRetention extends RetentionPass<Pruned> {
  constructor(private readonly opts: AuthRetentionOptions) {
    super(opts, {
      pruned: 'auth: pruned expired sessions, logged-out tokens and old audit rows',
      failed: 'auth: pruning failed',
    })
  }

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
