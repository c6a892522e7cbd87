// SQL for queue items and device heads; snake_case stays in here. An item's
// status is its job's: `pending` items wait, a `running` one holds its device.
// Group SQL lives in group-repository.ts.

import type { Selectable } from 'kysely'
import type { Database } from '../../db/types.js'
import { fromDbInt, fromDbTime, toDbTime } from '../../db/values.js'
import { FINISHED_JOB_STATUSES } from '../jobs/types.js'
import { moveTo, placeByPriority } from './queue-order.js'
import type {
  DeviceHead,
  DeviceQueueHeadsTable,
  DeviceQueueItemsTable,
  QueueDb,
  QueueEntry,
  QueueHold,
  QueueItem,
  QueueRef,
  QueueTables,
} from './tables.js'

/** Columns come back as the driver reads them (PostgreSQL counts as strings, SQLite times as text). */
function toItem(row: Selectable<DeviceQueueItemsTable>): QueueItem {
  return {
    ...row,
    position: fromDbInt(row.position),
    priority: fromDbInt(row.priority),
    requireConfirm: fromDbInt(row.requireConfirm) === 1,
    createdAt: fromDbTime(row.createdAt)!,
  }
}

function toEntry(
  row: Selectable<DeviceQueueItemsTable> & {
    name: string
    status: string
    progress: unknown
    error: string | null
  },
): QueueEntry {
  return {
    ...toItem(row),
    name: row.name,
    status: row.status,
    progress: fromDbInt(row.progress),
    error: row.error,
  }
}

function toHead(row: Selectable<DeviceQueueHeadsTable>): DeviceHead {
  return { ...row, hold: row.hold as QueueHold | null, updatedAt: fromDbTime(row.updatedAt)! }
}

/** A claim whose job has ended: the device is to be released (and maybe held). */
export interface EndedClaim {
  deviceId: string
  itemId: string
  jobId: string
  status: string
  requireConfirm: boolean
}

const FINISHED = [...FINISHED_JOB_STATUSES] as string[]

export class QueueRepository {
  private readonly db: QueueDb

  constructor(db: Database) {
    this.db = db.withTables<QueueTables>()
  }

  // ---- items ------------------------------------------------------------------

  /** Items joined to their jobs, whose status is the items'. */
  private withJobs() {
    return this.db.selectFrom('deviceQueueItems as i').innerJoin('jobs as j', 'j.id', 'i.jobId')
  }

  private scoped(ref: QueueRef) {
    return this.withJobs().where(ref.kind === 'device' ? 'i.deviceId' : 'i.groupId', '=', ref.id)
  }

  /** The queue's waiting and running items, running first, then by position. */
  async list(ref: QueueRef): Promise<QueueEntry[]> {
    const rows = await this.scoped(ref)
      .selectAll('i')
      .select(['j.name', 'j.status', 'j.progress', 'j.error'])
      .where('j.status', 'in', ['pending', 'running'])
      .orderBy('j.status', 'desc')
      .orderBy('i.position')
      .orderBy('i.id')
      .execute()
    return rows.map(toEntry)
  }

  async get(id: string): Promise<QueueEntry | undefined> {
    const row = await this.withJobs()
      .selectAll('i')
      .select(['j.name', 'j.status', 'j.progress', 'j.error'])
      .where('i.id', '=', id)
      .executeTakeFirst()
    return row ? toEntry(row) : undefined
  }

  /** How many items wait in the queue. */
  async waitingCount(ref: QueueRef): Promise<number> {
    const row = await this.scoped(ref)
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('j.status', '=', 'pending')
      .executeTakeFirstOrThrow()
    return fromDbInt(row.n)
  }

  /** Adds items (their jobs exist, pending) where their priority places them; renumbers the queue. */
  async add(ref: QueueRef, items: Omit<QueueItem, 'position'>[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const repo = new QueueRepository(trx as unknown as Database)
      for (const item of items) {
        await trx
          .insertInto('deviceQueueItems')
          .values({
            ...item,
            position: 0,
            requireConfirm: item.requireConfirm ? 1 : 0,
            createdAt: toDbTime(item.createdAt),
          })
          .execute()
      }
      const added = new Set(items.map((i) => i.id))
      const waiting = (await repo.waiting(ref)).filter((i) => !added.has(i.id))
      await repo.renumber(placeByPriority(waiting, items))
    })
  }

  /**
   * Moves a waiting item to a 1-based position, or gives it a new priority
   * (placed again by it); false when it is no longer waiting.
   */
  async reorder(
    ref: QueueRef,
    id: string,
    change: { position?: number; priority?: number },
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const repo = new QueueRepository(trx as unknown as Database)
      let order = await repo.waiting(ref)
      const item = order.find((i) => i.id === id)
      if (!item) return false
      if (change.priority !== undefined) {
        await trx
          .updateTable('deviceQueueItems')
          .set({ priority: change.priority })
          .where('id', '=', id)
          .execute()
        order = placeByPriority(
          order.filter((i) => i.id !== id),
          [{ ...item, priority: change.priority }],
        )
      }
      if (change.position !== undefined) order = moveTo(order, id, change.position)
      await repo.renumber(order)
      return true
    })
  }

  private async waiting(ref: QueueRef): Promise<{ id: string; priority: number; position?: number }[]> {
    const rows = await this.scoped(ref)
      .select(['i.id', 'i.priority', 'i.position'])
      .where('j.status', '=', 'pending')
      .orderBy('i.position')
      .orderBy('i.id')
      .execute()
    return rows.map((r) => ({ id: r.id, priority: fromDbInt(r.priority), position: fromDbInt(r.position) }))
  }

  private async renumber(order: { id: string; position?: number }[]): Promise<void> {
    for (const [i, item] of order.entries()) {
      if (item.position === i + 1) continue
      await this.db
        .updateTable('deviceQueueItems')
        .set({ position: i + 1 })
        .where('id', '=', item.id)
        .execute()
    }
  }

  /** Every waiting item (device queues' and groups'), in queue order. */
  async allWaiting(): Promise<QueueItem[]> {
    const rows = await this.withJobs()
      .selectAll('i')
      .where('j.status', '=', 'pending')
      .orderBy('i.position')
      .orderBy('i.id')
      .execute()
    return rows.map(toItem)
  }

  /** The waiting items' jobs of a queue (to cancel them when it goes away). */
  async waitingJobIds(ref: QueueRef): Promise<string[]> {
    const rows = await this.scoped(ref).select('i.jobId').where('j.status', '=', 'pending').execute()
    return rows.map((r) => r.jobId)
  }

  async assign(id: string, deviceId: string): Promise<void> {
    await this.db
      .updateTable('deviceQueueItems')
      .set({ assignedDeviceId: deviceId })
      .where('id', '=', id)
      .execute()
  }

  async deleteQueue(ref: QueueRef): Promise<void> {
    await this.db
      .deleteFrom('deviceQueueItems')
      .where(ref.kind === 'device' ? 'deviceId' : 'groupId', '=', ref.id)
      .execute()
  }

  // ---- device heads: the claim and the hold -------------------------------------

  async head(deviceId: string): Promise<DeviceHead | undefined> {
    const row = await this.db
      .selectFrom('deviceQueueHeads')
      .selectAll()
      .where('deviceId', '=', deviceId)
      .executeTakeFirst()
    return row ? toHead(row) : undefined
  }

  /** The heads that hold a device (a claim or a hold), keyed by device. */
  async heads(deviceIds: string[]): Promise<Map<string, DeviceHead>> {
    if (deviceIds.length === 0) return new Map()
    const rows = await this.db
      .selectFrom('deviceQueueHeads')
      .selectAll()
      .where('deviceId', 'in', deviceIds)
      .execute()
    return new Map(rows.map((r) => [r.deviceId, toHead(r)]))
  }

  /**
   * Takes the device for an item: one conditional update, so of two
   * dispatchers (or two processes) only one wins. False when the device is
   * running another item or its queue is held.
   */
  async claim(deviceId: string, itemId: string, jobId: string, at: Date): Promise<boolean> {
    await this.db
      .insertInto('deviceQueueHeads')
      .values({ deviceId, itemId: null, jobId: null, hold: null, holdJobId: null, updatedAt: toDbTime(at) })
      .onConflict((oc) => oc.column('deviceId').doNothing())
      .execute()
    const r = await this.db
      .updateTable('deviceQueueHeads')
      .set({ itemId, jobId, updatedAt: toDbTime(at) })
      .where('deviceId', '=', deviceId)
      .where('itemId', 'is', null)
      .where('hold', 'is', null)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  /** Ends the claim of `itemId` on the device, holding the queue when `hold` says why. */
  async release(deviceId: string, itemId: string, hold: QueueHold | null, at: Date): Promise<boolean> {
    const r = await this.db
      .updateTable('deviceQueueHeads')
      .set((eb) => ({
        itemId: null,
        jobId: null,
        hold,
        holdJobId: hold ? eb.ref('jobId') : null,
        updatedAt: toDbTime(at),
      }))
      .where('deviceId', '=', deviceId)
      .where('itemId', '=', itemId)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  /** Lifts a device's hold (an operator continued); false when nothing held it. */
  async lift(deviceId: string, at: Date): Promise<boolean> {
    const r = await this.db
      .updateTable('deviceQueueHeads')
      .set({ hold: null, holdJobId: null, updatedAt: toDbTime(at) })
      .where('deviceId', '=', deviceId)
      .where('hold', 'is not', null)
      .where('itemId', 'is', null)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  /** Claims whose job has a final status (it ended here, or a reaper ended a dead process's). */
  async endedClaims(): Promise<EndedClaim[]> {
    const rows = await this.db
      .selectFrom('deviceQueueHeads as h')
      .innerJoin('jobs as j', 'j.id', 'h.jobId')
      .leftJoin('deviceQueueItems as i', 'i.id', 'h.itemId')
      .select(['h.deviceId', 'h.itemId', 'h.jobId', 'j.status', 'i.requireConfirm'])
      .where('h.itemId', 'is not', null)
      .where('j.status', 'in', FINISHED)
      .execute()
    return rows.map((r) => ({
      deviceId: r.deviceId,
      itemId: r.itemId!,
      jobId: r.jobId!,
      status: r.status,
      requireConfirm: fromDbInt(r.requireConfirm ?? 0) === 1,
    }))
  }
}
