// The audit log: who did what, when, from where. Written by the auth hook
// for every state-changing request and by the login routes; read by admins
// through GET /api/auth/audit; pruned past MYNTRIX_AUDIT_RETENTION_DAYS.
//
// Repeats are coalesced. A device command route driven at 2,000 requests/s
// wrote 2,000 rows a second (129,000 in a minute), which buries the rows that
// matter and grows the table without bound. The first occurrence of an action
// is written at once; identical ones (same user, action, target, status and
// address) within the next `coalesceMs` are counted, and one summary row
// carries the count and the first and last time. Nothing is lost that the
// audit is for (who did which action to what, and how often); the exact time
// of each repeat is (the device's own wire log has those).
//
// Only repeats that are truly the same are merged: an action on one resource
// (a target), or a refused request (status >= 400, e.g. a password guessed
// over and over). A successful request without a target (a create: its id is
// in the answer, not the path) is written every time, so each created thing
// keeps its own row; those rows grow no faster than the resources they made.

import { newId } from '../db/ids.js'
import { countOf } from '../db/page.js'
import type { AuditLogTable, Database } from '../db/types.js'
import { fromDbJson, fromDbTime, toDbJson, toDbTime } from '../db/values.js'

export interface AuditEntry {
  userId: string | null
  username: string | null
  /** What was done: `login`, `login.failed`, or `<METHOD> <route pattern>`. */
  action: string
  /** The resource acted on (usually the :id in the path). */
  target: string | null
  method?: string
  path?: string
  statusCode?: number
  ip?: string
  details?: Record<string, unknown>
}

/** A row of the audit log as the API answers it: the time as ISO text, details parsed. */
export type AuditRecord = Omit<AuditLogTable, 'at' | 'details'> & {
  at: string
  details: Record<string, unknown> | null
}

export interface AuditQuery {
  userId?: string
  username?: string
  action?: string
  from?: Date
  to?: Date
  limit: number
  offset: number
}

interface Window {
  entry: AuditEntry
  repeats: number
  firstRepeatAt: Date | null
  lastRepeatAt: Date | null
  timer: NodeJS.Timeout
}

export interface AuditLogOptions {
  /** Identical entries within this many ms after the first are counted into one row (default 60 s; 0 = off). */
  coalesceMs?: number
  /** Open windows above this are not coalesced (memory bound under a flood of distinct entries). */
  maxWindows?: number
}

/**
 * Actions written one row each, never counted into a window: a refused login
 * is what an admin looks for during a guessing run, and a window's count shows
 * only when it closes (and is lost if the process dies first). The login rate
 * limit already bounds how many there can be.
 */
const NEVER_COALESCED = new Set(['login.failed'])

export class AuditLog {
  private readonly windows = new Map<string, Window>()
  private readonly pending = new Set<Promise<void>>()
  private readonly coalesceMs: number
  private readonly maxWindows: number
  private stopped = false

  constructor(
    private readonly db: Database,
    private readonly onError: (err: unknown) => void,
    options: AuditLogOptions = {},
  ) {
    this.coalesceMs = options.coalesceMs ?? 60_000
    this.maxWindows = options.maxWindows ?? 10_000
  }

  /** Records one entry (or counts it into an open window). Never throws: auditing must not fail the request it records. */
  record(entry: AuditEntry, at: Date = new Date()): Promise<void> {
    const sameThing = entry.target !== null || (entry.statusCode ?? 0) >= 400
    if (this.coalesceMs > 0 && !this.stopped && sameThing && !NEVER_COALESCED.has(entry.action)) {
      const key = JSON.stringify([
        entry.userId,
        entry.username,
        entry.action,
        entry.target,
        entry.statusCode ?? null,
        entry.ip ?? null,
      ])
      const open = this.windows.get(key)
      if (open) {
        open.repeats++
        open.firstRepeatAt ??= at
        open.lastRepeatAt = at
        return Promise.resolve()
      }
      if (this.windows.size < this.maxWindows) {
        const timer = setTimeout(() => this.closeWindow(key), this.coalesceMs)
        timer.unref()
        this.windows.set(key, { entry, repeats: 0, firstRepeatAt: null, lastRepeatAt: null, timer })
      }
    }
    return this.write(entry, at)
  }

  private closeWindow(key: string): void {
    const window = this.windows.get(key)
    if (!window) return
    clearTimeout(window.timer)
    this.windows.delete(key)
    if (window.repeats === 0) return
    const { entry, repeats, firstRepeatAt, lastRepeatAt } = window
    void this.write(
      {
        ...entry,
        details: {
          ...entry.details,
          repeated: repeats,
          firstAt: firstRepeatAt?.toISOString(),
          lastAt: lastRepeatAt?.toISOString(),
        },
      },
      lastRepeatAt ?? new Date(),
    )
  }

  private write(entry: AuditEntry, at: Date): Promise<void> {
    const done = this.insert(entry, at).finally(() => this.pending.delete(done))
    this.pending.add(done)
    return done
  }

  private async insert(entry: AuditEntry, at: Date): Promise<void> {
    try {
      await this.db
        .insertInto('auditLog')
        .values({
          id: newId(),
          at: toDbTime(at),
          userId: entry.userId,
          username: entry.username,
          action: entry.action,
          target: entry.target,
          method: entry.method ?? null,
          path: entry.path ?? null,
          statusCode: entry.statusCode ?? null,
          ip: entry.ip ?? null,
          details: toDbJson(entry.details),
        })
        .execute()
    } catch (err) {
      this.onError(err)
    }
  }

  /** Writes the open windows' summary rows and waits for writes in flight; later entries are written one by one. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const key of [...this.windows.keys()]) this.closeWindow(key)
    await Promise.all([...this.pending])
  }

  /** Newest first, with the total matching the filters (for X-Total-Count). */
  async list(query: AuditQuery): Promise<{ items: AuditRecord[]; total: number }> {
    let q = this.db.selectFrom('auditLog')
    if (query.userId !== undefined) q = q.where('userId', '=', query.userId)
    if (query.username !== undefined) q = q.where('username', '=', query.username)
    if (query.action !== undefined) q = q.where('action', '=', query.action)
    if (query.from) q = q.where('at', '>=', toDbTime(query.from))
    if (query.to) q = q.where('at', '<', toDbTime(query.to))
    const [rows, total] = await Promise.all([
      q
        .selectAll()
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit)
        .offset(query.offset)
        .execute(),
      countOf(q),
    ])
    return {
      items: rows.map((r) => ({
        id: r.id,
        at: fromDbTime(r.at)!.toISOString(),
        userId: r.userId,
        username: r.username,
        action: r.action,
        target: r.target,
        method: r.method,
        path: r.path,
        statusCode: r.statusCode === null ? null : Number(r.statusCode),
        ip: r.ip,
        details: fromDbJson(r.details),
      })),
      total,
    }
  }

  /** Deletes up to `limit` rows older than `before` (oldest first); returns how many. */
  async prune(before: Date, limit: number): Promise<number> {
    const db = this.db
    const result = await db
      .deleteFrom('auditLog')
      .where(
        'id',
        'in',
        db.selectFrom('auditLog').select('id').where('at', '<', toDbTime(before)).orderBy('at').limit(limit),
      )
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
