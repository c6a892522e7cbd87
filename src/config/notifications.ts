// The notifications area's delivery settings (MYNTRIX_NOTIFY_*; docs/ALERTS.md).

import { type Env, int } from './env.js'

export interface NotificationsSettings {
  /** One attempt's limit (connect, send, answer). */
  timeoutMs: number
  /** Attempts per notification, the first included. */
  maxAttempts: number
  /** The wait after the first failed attempt; it doubles after each further one. */
  retryBaseMs: number
  retryMaxMs: number
  /** Attempts in flight at once. */
  concurrency: number
  /** How often to look for deliveries other servers queued. */
  pollMs: number
  /** Days a finished delivery (and its attempts) is kept; 0 keeps all. */
  historyDays: number
}

export function notificationsSettings(env: Env): NotificationsSettings {
  return {
    timeoutMs: int(env, 'MYNTRIX_NOTIFY_TIMEOUT_MS', 10_000, 100, 300_000),
    maxAttempts: int(env, 'MYNTRIX_NOTIFY_MAX_ATTEMPTS', 8, 1, 100),
    retryBaseMs: int(env, 'MYNTRIX_NOTIFY_RETRY_BASE_MS', 10_000, 1, 3_600_000),
    retryMaxMs: int(env, 'MYNTRIX_NOTIFY_RETRY_MAX_MS', 900_000, 1, 86_400_000),
    concurrency: int(env, 'MYNTRIX_NOTIFY_CONCURRENCY', 4, 1, 64),
    pollMs: int(env, 'MYNTRIX_NOTIFY_POLL_MS', 5000, 50, 600_000),
    historyDays: int(env, 'MYNTRIX_NOTIFY_HISTORY_DAYS', 30, 0, 36_500),
  }
}
