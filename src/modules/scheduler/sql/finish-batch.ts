// Ending runs, batched per turn of the event loop (src/db/turn-batch.ts): a
// second of 100 firings ends 100 runs, and that is one statement, not 100.
// Each row keeps its own compare-and-set on the status and its own answer.

import type { Kysely } from 'kysely'
import { placeholders, rawQuery, rows, typed } from '../../../db/raw.js'
import { TurnBatch } from '../../../db/turn-batch.js'
import type { DB, DbEngine } from '../../../db/types.js'
import { toDbTime } from '../../../db/values.js'
import type { RunStatus } from '../types.js'

export interface RunEnd {
  endTime: Date
  logs?: string | null
  error?: string | null
}

interface PendingFinish {
  id: string
  status: RunStatus
  fields: RunEnd
  from: readonly RunStatus[]
}

export class RunFinisher {
  private readonly batch = new TurnBatch<PendingFinish, boolean>((batch) => this.write(batch))

  constructor(
    private readonly db: Kysely<DB>,
    private readonly engine: DbEngine,
  ) {}

  /** Ends a run that is `from`; false when it was not (already ended, e.g. cancelled). */
  finish(id: string, status: RunStatus, fields: RunEnd, from: readonly RunStatus[]): Promise<boolean> {
    return this.batch.add({ id, status, fields, from })
  }

  /**
   * One turn's run ends: calls that set the same columns from the same
   * statuses share a statement. A run named twice in one turn is written in
   * call order: what is pending is written first.
   */
  private async write(batch: PendingFinish[]): Promise<boolean[]> {
    const ended = new Map<PendingFinish, boolean>()
    const groups = new Map<string, PendingFinish[]>()
    const ids = new Set<string>()
    const writeGroups = async () => {
      for (const group of groups.values()) {
        const moved = await this.finishMany(group)
        for (const f of group) ended.set(f, moved.has(f.id))
      }
      groups.clear()
      ids.clear()
    }
    for (const f of batch) {
      if (ids.has(f.id)) await writeGroups()
      ids.add(f.id)
      const key = `${f.from.join(',')}|${f.fields.logs !== undefined}|${f.fields.error !== undefined}`
      const group = groups.get(key)
      if (group) group.push(f)
      else groups.set(key, [f])
    }
    await writeGroups()
    return batch.map((f) => ended.get(f) ?? false)
  }

  /** One `UPDATE ... FROM (VALUES ...)` for runs that set the same columns from the same statuses; returns the ids it ended. */
  private async finishMany(finishes: PendingFinish[]): Promise<Set<string>> {
    const { from, fields } = finishes[0] as PendingFinish
    const withLogs = fields.logs !== undefined
    const withError = fields.error !== undefined
    const columns = ['run_id', 'status', 'end_time']
    // The run's action ended its process group on the way out: nothing left to recover.
    const sets = ['status = v.status', 'end_time = v.end_time', 'pid = null', 'pid_start_time = null']
    const row = ['?', '?', typed(this.engine, 'timestamptz')]
    if (withLogs) {
      columns.push('logs')
      sets.push('logs = v.logs')
      row.push('?')
    }
    if (withError) {
      columns.push('error')
      sets.push('error = v.error')
      row.push('?')
    }
    const params: unknown[] = []
    for (const f of finishes) {
      params.push(f.id, f.status, toDbTime(f.fields.endTime))
      if (withLogs) params.push(f.fields.logs ?? null)
      if (withError) params.push(f.fields.error ?? null)
    }
    params.push(...from)
    const ended = await rawQuery<{ id: string }>(
      this.db,
      this.engine,
      `with v(${columns.join(', ')}) as (values ${rows(finishes.length, `(${row.join(', ')})`)})` +
        ` update task_runs set ${sets.join(', ')} from v` +
        ` where task_runs.id = v.run_id and task_runs.status in (${placeholders(from.length)})` +
        ' returning task_runs.id',
      params,
    )
    return new Set(ended.map((r) => r.id))
  }
}
