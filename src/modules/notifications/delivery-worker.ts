// Sends what the outbox holds. Each due delivery is claimed (a lease, so two
// servers on one database never send the same attempt), sent once through its
// rule's sink with a timeout, and the attempt recorded with its verdict: a
// failure worth retrying is planned again after an exponential backoff until
// the rule's attempts run out. The worker wakes when a notification is queued
// here, when the next planned attempt is due, and every pollMs for work other
// servers queued. Nothing it does runs on the path of the event's source.

import type { NotificationsSettings } from '../../config/index.js'
import { newId } from '../../db/ids.js'
import type { Logger } from '../../logger.js'
import type { DeliveryRecord } from './delivery-record.js'
import type { Outbox } from './outbox.js'
import type { SinkSettings } from './rule-record.js'
import type { RuleRepository } from './rule-repository.js'
import type { SendResult, Sink } from './sinks/types.js'

/** How often finished deliveries past historyDays are deleted. */
const PRUNE_INTERVAL_MS = 3_600_000

export interface DeliveryWorkerOptions {
  outbox: Outbox
  rules: RuleRepository
  sinks: Record<SinkSettings['type'], Sink>
  /** The rule owner's role as it is now; undefined for a disabled or deleted owner. */
  roleOf(userId: string): Promise<string | undefined>
  /** This process, as the holder of its claims. */
  holder: string
  settings: NotificationsSettings
  logger: Logger
}

/** Backoff before attempt `attempt + 1`: base, 2×base, 4×base, ... capped at retryMaxMs. */
export function retryDelayMs(
  attempt: number,
  settings: Pick<NotificationsSettings, 'retryBaseMs' | 'retryMaxMs'>,
) {
  return Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.max(0, attempt - 1))
}

class StopError extends Error {
  constructor() {
    super('the server is stopping')
  }
}

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`)
  }
}

export class DeliveryWorker {
  private readonly inFlight = new Map<string, Promise<void>>()
  private readonly stopping = new AbortController()
  private timer: NodeJS.Timeout | null = null
  private pumping = false
  private again = false
  private started = false
  private lastPruneMs = 0

  constructor(private readonly options: DeliveryWorkerOptions) {}

  start(): void {
    this.started = true
    this.wake()
  }

  /** Aborts attempts in flight (they are not recorded: the delivery is sent again later) and lets go of claims. */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return
    this.stopping.abort(new StopError())
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await Promise.allSettled([...this.inFlight.values()])
    await this.options.outbox.release(this.options.holder).catch((err) => {
      this.options.logger.warn({ err }, 'notifications: could not release delivery claims')
    })
  }

  /** Look for due work now (a notification was queued, an attempt finished). */
  wake(): void {
    if (!this.started || this.stopping.signal.aborted) return
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = true
    void this.pump()
      .catch((err) => this.options.logger.error({ err }, 'notifications: delivery worker step failed'))
      .finally(() => {
        this.pumping = false
        if (this.again) {
          this.again = false
          this.wake()
        }
      })
  }

  /**
   * Claims and sends one delivery at once, whatever its planned time (the
   * `test` route): answers the delivery as recorded after the attempt, or
   * undefined when another process holds it.
   */
  async sendNow(id: string): Promise<DeliveryRecord | undefined> {
    const delivery = await this.claim(id)
    if (!delivery) return undefined
    await this.track(delivery)
    return this.options.outbox.get(id)
  }

  private async pump(): Promise<void> {
    const { outbox, settings } = this.options
    if (settings.historyDays > 0 && Date.now() - this.lastPruneMs >= PRUNE_INTERVAL_MS) {
      this.lastPruneMs = Date.now()
      await outbox.prune(new Date(Date.now() - settings.historyDays * 86_400_000))
    }
    const free = settings.concurrency - this.inFlight.size
    if (free > 0) {
      for (const id of await outbox.due(new Date(), free)) {
        if (this.stopping.signal.aborted || this.inFlight.size >= settings.concurrency) break
        if (this.inFlight.has(id)) continue
        const delivery = await this.claim(id)
        if (delivery) void this.track(delivery)
      }
    }
    await this.planWake()
  }

  private async planWake(): Promise<void> {
    if (this.stopping.signal.aborted) return
    const next = await this.options.outbox.nextDue()
    const poll = this.options.settings.pollMs
    const wait = next ? Math.max(0, Math.min(poll, next.getTime() - Date.now())) : poll
    if (this.timer) clearTimeout(this.timer)
    // A due delivery held by a live claim elsewhere would spin at 0 ms: look again a little later.
    this.timer = setTimeout(() => this.wake(), Math.max(wait, 50))
    this.timer.unref?.()
  }

  private claim(id: string): Promise<DeliveryRecord | undefined> {
    const now = new Date()
    // The lease outlasts one attempt, so only a killed holder's claim expires.
    const until = new Date(now.getTime() + this.options.settings.timeoutMs + 30_000)
    return this.options.outbox.claim(id, this.options.holder, now, until)
  }

  private track(delivery: DeliveryRecord): Promise<void> {
    const run = this.attempt(delivery)
      .catch((err) => {
        if (!(err instanceof StopError)) {
          this.options.logger.error({ err, deliveryId: delivery.id }, 'notifications: attempt failed')
        }
      })
      .finally(() => {
        this.inFlight.delete(delivery.id)
        this.wake()
      })
    this.inFlight.set(delivery.id, run)
    return run
  }

  private async attempt(delivery: DeliveryRecord): Promise<void> {
    const { outbox, rules, settings } = this.options
    const rule = await rules.get(delivery.ruleId)
    // Deleting a rule deletes its deliveries; one read just before is simply let go.
    if (!rule) return
    const attempt = delivery.attempts + 1
    const startedAt = new Date()
    const started = performance.now()
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(new AttemptTimeout(settings.timeoutMs)), settings.timeoutMs)
    const signal = AbortSignal.any([this.stopping.signal, timeout.signal])
    let result: SendResult
    try {
      const role = await this.options.roleOf(rule.ownerId)
      result = await this.options.sinks[rule.sink.type].send({ delivery, rule, role, attempt, signal })
    } catch (err) {
      if (this.stopping.signal.aborted) throw new StopError()
      const message = timeout.signal.aborted ? (timeout.signal.reason as Error).message : String(err)
      result = { ok: false, statusCode: null, error: message, retryable: true }
    } finally {
      clearTimeout(timer)
    }
    const durationMs = Math.round(performance.now() - started)
    const retry = !result.ok && result.retryable && attempt < delivery.maxAttempts
    const outcome = result.ok ? 'delivered' : retry ? 'retry' : 'failed'
    const nextAttemptAt = retry ? new Date(Date.now() + retryDelayMs(attempt, settings)) : null
    await outbox.recordAttempt(
      {
        id: newId(),
        deliveryId: delivery.id,
        attempt,
        startedAt,
        durationMs,
        statusCode: result.statusCode,
        error: result.error,
        outcome,
        nextAttemptAt,
      },
      {
        status: result.ok ? 'delivered' : retry ? 'pending' : 'failed',
        deliveredAt: result.ok ? new Date() : null,
      },
    )
    if (!result.ok) {
      this.options.logger.info(
        { deliveryId: delivery.id, ruleId: rule.id, attempt, error: result.error, nextAttemptAt },
        retry ? 'notifications: delivery failed; will retry' : 'notifications: delivery failed; giving up',
      )
    }
  }
}
