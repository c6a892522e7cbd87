// The scheduler area's settings (MYNTRIX_SCHEDULER_*, MYNTRIX_API_ACTION_ALLOW;
// docs/SCHEDULER.md). The process heartbeat is not among them: it is the
// process's (process.ts here), which the scheduler's engine only reads.

import { type Env, optionalInt, str } from './env.js'

export interface SchedulerSettings {
  /** Longest engine sleep while runs are in flight; undefined: the engine's default. */
  maxSleepMs: number | undefined
  /** Log text kept per run; undefined: the engine's default. */
  maxLogChars: number | undefined
  /** Days of finished runs kept; undefined (unset or 0) keeps them all. */
  historyDays: number | undefined
  /**
   * Host allow-list for the `api` action (lower-cased); empty = any host the outbound
   * policy lets the task's owner reach. It only narrows; it never opens.
   */
  apiActionAllow: string[]
}

/** Settings that once meant something and are now ignored: said at start-up, never silently. */
const RETIRED = ['MYNTRIX_SCHEDULER_CLAIM_AHEAD_MS']

export function schedulerSettings(env: Env, warnings: string[]): SchedulerSettings {
  for (const name of RETIRED) {
    // Claims happen at the due time now (docs/SCHEDULER.md).
    if (env[name] !== undefined) warnings.push(`${name} is no longer used and is ignored`)
  }
  return {
    maxSleepMs: optionalInt(env, 'MYNTRIX_SCHEDULER_MAX_SLEEP_MS', 50, 600_000),
    maxLogChars: optionalInt(env, 'MYNTRIX_SCHEDULER_LOG_MAX_CHARS', 1024, 16 * 1024 * 1024),
    historyDays: optionalInt(env, 'MYNTRIX_SCHEDULER_HISTORY_DAYS', 0, 36_500) || undefined,
    apiActionAllow: (str(env, 'MYNTRIX_API_ACTION_ALLOW') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  }
}
