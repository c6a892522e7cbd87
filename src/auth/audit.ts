import { newId } from '../db/ids.js'
import type { Database } from '../db/types.js'
import { toDbJson, toDbTime } from '../db/values.js'

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

export class AuditLog {
  constructor(
    private readonly db: Database,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Writes one row. Never throws: auditing must not fail the request it records. */
  async record(entry: AuditEntry, at: Date = new Date()): Promise<void> {
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
}
