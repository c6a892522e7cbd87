// Names and owners of the resources events name. Bus events carry ids (the
// sources should not pay for a lookup nobody may need); the few facts a
// notification adds are read here, read-only, at the time it is written.

import type { Database } from '../../db/types.js'
import { fromDbInt } from '../../db/values.js'

export interface ResourceFacts {
  name: string
  ownerId: string | null
}

export interface RunFacts {
  status: string
  error: string | null
  logs: string | null
  attempt: number
  trigger: string
}

/** How much of a run's log a notification carries: its end, where the failure usually is. */
export const LOG_EXCERPT_CHARS = 2000

export class ResourceLookup {
  constructor(private readonly db: Database) {}

  async agent(id: string): Promise<ResourceFacts | undefined> {
    return this.db.selectFrom('agents').select(['name', 'ownerId']).where('id', '=', id).executeTakeFirst()
  }

  async device(id: string): Promise<ResourceFacts | undefined> {
    return this.db.selectFrom('devices').select(['name', 'ownerId']).where('id', '=', id).executeTakeFirst()
  }

  async task(id: string): Promise<ResourceFacts | undefined> {
    return this.db
      .selectFrom('scheduledTasks')
      .select(['name', 'ownerId'])
      .where('id', '=', id)
      .executeTakeFirst()
  }

  async run(id: string): Promise<RunFacts | undefined> {
    const row = await this.db
      .selectFrom('taskRuns')
      .select(['status', 'error', 'logs', 'attempt', 'trigger'])
      .where('id', '=', id)
      .executeTakeFirst()
    return row && { ...row, attempt: fromDbInt(row.attempt) }
  }
}

/** The end of a log, cut at a line start when one is near, marked when cut. */
export function logExcerpt(logs: string | null, max = LOG_EXCERPT_CHARS): string | null {
  if (!logs) return null
  const text = logs.replace(/\s+$/, '')
  if (text.length <= max) return text
  let tail = text.slice(text.length - max)
  const nl = tail.indexOf('\n')
  if (nl >= 0 && nl < 200) tail = tail.slice(nl + 1)
  return `[... ${text.length - tail.length} earlier characters ...]\n${tail}`
}
