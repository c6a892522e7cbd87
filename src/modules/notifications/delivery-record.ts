// A notification on its way to a sink, and each attempt to send it. Shared by
// the outbox (storage), the delivery worker and the API views.

import type { NotificationDeliveriesTable } from '../../db/types.js'

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number]

/** delivered: the sink took it; retry: another attempt is planned; failed: no more attempts. */
export type AttemptOutcome = 'delivered' | 'retry' | 'failed'

/** The stored row's columns, less the worker's claim, with times as dates. */
export interface DeliveryRecord
  extends Omit<
    NotificationDeliveriesTable,
    'status' | 'nextAttemptAt' | 'claimedBy' | 'claimedUntil' | 'createdAt' | 'updatedAt' | 'deliveredAt'
  > {
  status: DeliveryStatus
  nextAttemptAt: Date | null
  createdAt: Date
  deliveredAt: Date | null
}

export interface AttemptRecord {
  deliveryId: string
  attempt: number
  startedAt: Date
  durationMs: number
  statusCode: number | null
  error: string | null
  outcome: AttemptOutcome
  nextAttemptAt: Date | null
}
