// History retention's delete (history-retention.ts drives it task by task).

import type { Kysely } from 'kysely'
import type { DB } from '../../../db/types.js'
import { toDbTime } from '../../../db/values.js'
import { FINISHED_RUN_STATUSES } from '../types.js'

/**
 * Deletes up to `limit` finished runs of one task created before `before`;
 * returns how many. Per task, so the (task_id, created_at) index finds just
 * the expired rows, and bounded, so no delete holds the write lock long.
 */
export async function pruneRuns(
  db: Kysely<DB>,
  taskId: string,
  before: Date,
  limit: number,
): Promise<number> {
  const res = await db
    .deleteFrom('taskRuns')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('taskRuns')
        .select('id')
        .where('taskId', '=', taskId)
        .where('createdAt', '<', toDbTime(before))
        .where('status', 'in', [...FINISHED_RUN_STATUSES])
        .limit(limit),
    )
    .executeTakeFirst()
  return Number(res.numDeletedRows)
}
