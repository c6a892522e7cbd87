// A notification on its way to a sink, and each attempt to send it. Shared by
// the outbox (storage), the delivery worker and the API views.

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number]

/** delivered: the sink took it; retry: another attempt is planned; failed: no more attempts. */
export type AttemptOutcome = 'delivered' | 'retry' | 'failed'

export interface DeliveryRecord {
  id: string
  ruleId: string
  eventId: string
  eventKind: string
  resourceType: string | null
  resourceId: string | null
  /** The exact JSON text sent (and signed) at every attempt. */
  body: string
  status: DeliveryStatus
  attempts: number
  maxAttempts: number
  nextAttemptAt: Date | null
  lastStatusCode: number | null
  lastError: string | null
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
