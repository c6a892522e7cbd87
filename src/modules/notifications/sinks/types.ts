// What the delivery worker asks of a sink: send one notification once. The
// worker owns retries, timeouts and the record of every attempt.

import type { DeliveryRecord } from '../delivery-record.js'
import type { NotificationRule } from '../rule-record.js'

export interface SendRequest {
  delivery: DeliveryRecord
  rule: NotificationRule
  /** The rule owner's role as it is now: the outbound policy reads it. */
  role: string | undefined
  /** 1 for the first attempt. */
  attempt: number
  /** Aborts on the attempt's timeout or the server stopping. */
  signal: AbortSignal
}

export interface SendResult {
  ok: boolean
  /** The HTTP status, for webhooks. */
  statusCode: number | null
  error: string | null
  /** Whether another attempt could succeed (a 5xx, a timeout), as opposed to a refusal that will not change. */
  retryable: boolean
}

export interface Sink {
  send(request: SendRequest): Promise<SendResult>
}
