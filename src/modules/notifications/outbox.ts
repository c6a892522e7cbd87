// SQL for the durable outbox: deliveries, their attempts and the per-rule,
// per-resource cooldowns. A delivery is claimed by one process at a time (a
// lease in claimed_by/claimed_until), so several servers sharing a database
// never send the same attempt twice, and a lease left by a killed server
// expires and the delivery is taken up again.

import type { Selectable } from 'kysely'
import type { Database, NotificationDeliveriesTable } from '../../db/types.js'
import { fromDbInt, fromDbIntOrNull, fromDbTime, toDbTime } from '../../db/values.js'
import type { AttemptRecord, DeliveryRecord, DeliveryStatus } from './delivery-record.js'

const DELIVERY_COLUMNS = [
  'id',
  'ruleId',
  'eventId',
  'eventKind',
  'resourceType',
  'resourceId',
  'body',
  'status',
  'attempts',
  'maxAttempts',
  'nextAttemptAt',
  'lastStatusCode',
  'lastError',
  'createdAt',
  'deliveredAt',
] as const

type DeliveryRow = Pick<Selectable<NotificationDeliveriesTable>, (typeof DELIVERY_COLUMNS)[number]>

function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    ...row,
    status: row.status as DeliveryStatus,
    attempts: fromDbInt(row.attempts),
    maxAttempts: fromDbInt(row.maxAttempts),
    nextAttemptAt: fromDbTime(row.nextAttemptAt),
    lastStatusCode: fromDbIntOrNull(row.lastStatusCode),
    createdAt: fromDbTime(row.createdAt)!,
    deliveredAt: fromDbTime(row.deliveredAt),
  }
}

export interface Cooldown {
  lastSentAt: Date
  suppressed: number
}

export class Outbox {
  constructor(private readonly db: Database) {}

  /** The cooldown row of a rule and resource, if a notification went out for it before. */
  async cooldown(ruleId: string, resourceKey: string): Promise<Cooldown | undefined> {
    const row = await this.db
      .selectFrom('notificationCooldowns')
      .select(['lastSentAt', 'suppressed'])
      .where('ruleId', '=', ruleId)
      .where('resourceKey', '=', resourceKey)
      .executeTakeFirst()
    return row && { lastSentAt: fromDbTime(row.lastSentAt)!, suppressed: fromDbInt(row.suppressed) }
  }

  /** Counts one more event held back by the cooldown. */
  async suppress(ruleId: string, resourceKey: string): Promise<void> {
    await this.db
      .updateTable('notificationCooldowns')
      .set((eb) => ({ suppressed: eb('suppressed', '+', 1) }))
      .where('ruleId', '=', ruleId)
      .where('resourceKey', '=', resourceKey)
      .execute()
  }

  /** Writes a new delivery and, in the same transaction, restarts the cooldown it opens. */
  async enqueue(delivery: DeliveryRecord, cooldown?: { resourceKey: string; at: Date }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notificationDeliveries')
        .values({
          ...delivery,
          nextAttemptAt: toDbTime(delivery.nextAttemptAt),
          createdAt: toDbTime(delivery.createdAt),
          updatedAt: toDbTime(delivery.createdAt),
          deliveredAt: toDbTime(delivery.deliveredAt),
          claimedBy: null,
          claimedUntil: null,
        })
        .execute()
      if (!cooldown) return
      const at = toDbTime(cooldown.at)
      await trx
        .insertInto('notificationCooldowns')
        .values({ ruleId: delivery.ruleId, resourceKey: cooldown.resourceKey, lastSentAt: at, suppressed: 0 })
        .onConflict((oc) =>
          oc.columns(['ruleId', 'resourceKey']).doUpdateSet({ lastSentAt: at, suppressed: 0 }),
        )
        .execute()
    })
  }

  /** Ids of pending deliveries due by `now` that nobody holds, oldest due first. */
  async due(now: Date, limit: number): Promise<string[]> {
    const at = toDbTime(now)
    const rows = await this.db
      .selectFrom('notificationDeliveries')
      .select('id')
      .where('status', '=', 'pending')
      .where('nextAttemptAt', '<=', at)
      .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<', at)]))
      .orderBy('nextAttemptAt')
      .limit(limit)
      .execute()
    return rows.map((r) => r.id)
  }

  /** When the next pending delivery is due (null: none pending). */
  async nextDue(): Promise<Date | null> {
    const row = await this.db
      .selectFrom('notificationDeliveries')
      .select((eb) => eb.fn.min('nextAttemptAt').as('next'))
      .where('status', '=', 'pending')
      .executeTakeFirst()
    return fromDbTime(row?.next)
  }

  /** Takes the delivery for one attempt until `until`; undefined when another process holds it or it is done. */
  async claim(id: string, holder: string, now: Date, until: Date): Promise<DeliveryRecord | undefined> {
    const at = toDbTime(now)
    const result = await this.db
      .updateTable('notificationDeliveries')
      .set({ claimedBy: holder, claimedUntil: toDbTime(until) })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<', at)]))
      .executeTakeFirst()
    if (Number(result.numUpdatedRows) !== 1) return undefined
    return this.get(id)
  }

  /** Records one attempt and its verdict, and lets go of the claim. */
  async recordAttempt(
    attempt: AttemptRecord & { id: string },
    next: { status: DeliveryStatus; deliveredAt: Date | null },
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notificationAttempts')
        .values({
          ...attempt,
          startedAt: toDbTime(attempt.startedAt),
          nextAttemptAt: toDbTime(attempt.nextAttemptAt),
        })
        .execute()
      await trx
        .updateTable('notificationDeliveries')
        .set({
          status: next.status,
          attempts: attempt.attempt,
          nextAttemptAt: toDbTime(attempt.nextAttemptAt),
          lastStatusCode: attempt.statusCode,
          lastError: attempt.error,
          deliveredAt: toDbTime(next.deliveredAt),
          updatedAt: toDbTime(new Date(attempt.startedAt.getTime() + attempt.durationMs)),
          claimedBy: null,
          claimedUntil: null,
        })
        .where('id', '=', attempt.deliveryId)
        .execute()
    })
  }

  /** Lets go of every claim `holder` has (a stopping server), so another process need not wait for the lease. */
  async release(holder: string): Promise<void> {
    await this.db
      .updateTable('notificationDeliveries')
      .set({ claimedBy: null, claimedUntil: null })
      .where('claimedBy', '=', holder)
      .execute()
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const row = await this.db
      .selectFrom('notificationDeliveries')
      .select(DELIVERY_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst()
    return row && toDelivery(row)
  }

  /** A rule's deliveries, newest first. */
  async forRule(
    ruleId: string,
    page: { limit: number; offset: number },
  ): Promise<{ items: DeliveryRecord[]; total: number }> {
    const query = this.db.selectFrom('notificationDeliveries').where('ruleId', '=', ruleId)
    const rows = await query
      .select(DELIVERY_COLUMNS)
      .orderBy('createdAt', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute()
    const count = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
    return { items: rows.map(toDelivery), total: Number(count?.n ?? 0) }
  }

  /** The attempts of these deliveries, oldest first, grouped by delivery. */
  async attempts(deliveryIds: string[]): Promise<Map<string, AttemptRecord[]>> {
    const byDelivery = new Map<string, AttemptRecord[]>(deliveryIds.map((id) => [id, []]))
    if (deliveryIds.length === 0) return byDelivery
    const rows = await this.db
      .selectFrom('notificationAttempts')
      .selectAll()
      .where('deliveryId', 'in', deliveryIds)
      .orderBy('attempt')
      .execute()
    for (const row of rows) {
      byDelivery.get(row.deliveryId)?.push({
        deliveryId: row.deliveryId,
        attempt: fromDbInt(row.attempt),
        startedAt: fromDbTime(row.startedAt)!,
        durationMs: fromDbInt(row.durationMs),
        statusCode: fromDbIntOrNull(row.statusCode),
        error: row.error,
        outcome: row.outcome as AttemptRecord['outcome'],
        nextAttemptAt: fromDbTime(row.nextAttemptAt),
      })
    }
    return byDelivery
  }

  /** Deletes finished deliveries (delivered or failed) created before `before`, with their attempts. */
  async prune(before: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('notificationDeliveries')
      .where('status', '!=', 'pending')
      .where('createdAt', '<', toDbTime(before))
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
