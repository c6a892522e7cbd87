// The monitoring area's settings (MYNTRIX_METRICS_*; docs/MONITORING.md).

import { bool, type Env, int } from './env.js'

export interface MonitoringSettings {
  /** Host sampling interval. */
  intervalMs: number
  /** Days of one-minute aggregates kept. */
  retentionDays: number
  /** The filesystem whose usage is reported: the data directory's. */
  diskPath: string
  /** Serve /metrics without a credential (read by the auth hook, not the area). */
  public: boolean
}

export function monitoringSettings(env: Env, dataDir: string): MonitoringSettings {
  return {
    intervalMs: int(env, 'MYNTRIX_METRICS_INTERVAL_MS', 1000, 100, 3_600_000),
    retentionDays: int(env, 'MYNTRIX_METRICS_RETENTION_DAYS', 7, 1, 3650),
    diskPath: dataDir,
    public: bool(env, 'MYNTRIX_METRICS_PUBLIC', false),
  }
}
