// Every setting comes from the environment and is validated once, here, when
// the process starts: a bad value throws ConfigError naming the variable and
// what is allowed; main.ts prints that one line and exits. Each area receives
// only its own section (agents, scheduler, deviceFiles, monitoring, notifications, cluster), never the
// environment, which holds the server's secrets.

import path from 'node:path'
import { ConfigError } from '../errors.js'
import { type AgentsSettings, agentsSettings } from './agents.js'
import { type ChildrenSettings, childrenSettings } from './children.js'
import { type ClusterSettings, clusterSettings } from './cluster.js'
import { type DeviceFilesSettings, deviceFilesSettings } from './device-files.js'
import { bool, type Env, int, str } from './env.js'
import { heartbeatMs } from './heartbeat.js'
import { type MonitoringSettings, monitoringSettings } from './monitoring.js'
import { type NotificationsSettings, notificationsSettings } from './notifications.js'
import { type OutboundSettings, outboundSettings } from './outbound.js'
import { type SchedulerSettings, schedulerSettings } from './scheduler.js'

export type { AgentsSettings } from './agents.js'
export { type ChildrenSettings, onlyAdminsDecide } from './children.js'
export type { ClusterSettings } from './cluster.js'
export type { DeviceFilesSettings } from './device-files.js'
export type { MonitoringSettings } from './monitoring.js'
export type { NotificationsSettings } from './notifications.js'
export type { OutboundSettings } from './outbound.js'
export type { SchedulerSettings } from './scheduler.js'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export interface Config {
  host: string
  port: number
  dataDir: string
  /** sqlite:///abs/path.db, sqlite::memory:, or postgres://... */
  databaseUrl: string
  adminPassword: string | null
  jwtSecret: string | null
  jwtTtlSeconds: number
  /** Lifetime of a browser session cookie (MYNTRIX_SESSION_TTL_SECONDS). */
  sessionTtlSeconds: number
  /** Mark the session cookie Secure even when the request did not arrive over HTTPS (behind a TLS proxy). */
  cookieSecure: boolean
  /** Audit rows older than this many days are pruned; 0 keeps every row. */
  auditRetentionDays: number
  /** Identical audit entries within this many seconds of the first are counted into one row; 0 = a row each. */
  auditCoalesceSeconds: number
  logLevel: LogLevel
  /** Failed logins per username+IP within loginWindowSeconds before 429. */
  loginMaxAttempts: number
  loginWindowSeconds: number
  corsOrigin: string | null
  /** How often a live stream (WebSocket, SSE) re-checks its credential; a revoked one ends it. */
  streamAuthRecheckMs: number
  /** A request body (any route) that sends no bytes for this long is ended with 408. */
  uploadIdleTimeoutMs: number
  /** How often a process with work in flight writes its heartbeat (MYNTRIX_HEARTBEAT_MS). */
  heartbeatMs: number
  outbound: OutboundSettings
  children: ChildrenSettings
  agents: AgentsSettings
  deviceFiles: DeviceFilesSettings
  monitoring: MonitoringSettings
  scheduler: SchedulerSettings
  notifications: NotificationsSettings
  cluster: ClusterSettings
  /** One line each for deprecated or retired settings still set; logged at start-up. */
  warnings: string[]
}

function databaseUrl(env: Env, dataDir: string): string {
  const name = 'MYNTRIX_DATABASE_URL'
  const v = str(env, name)
  if (v === undefined) return `sqlite://${path.join(dataDir, 'myntrix.db')}`
  if (v === 'sqlite::memory:') return v
  if (v.startsWith('sqlite://')) {
    const file = v.slice('sqlite://'.length)
    if (!file.startsWith('/')) {
      throw new ConfigError(name, `a sqlite URL needs an absolute path (sqlite:///abs/path.db), got "${v}"`)
    }
    return v
  }
  if (v.startsWith('postgres://') || v.startsWith('postgresql://')) {
    try {
      new URL(v)
    } catch {
      throw new ConfigError(name, `is not a valid postgres:// URL`)
    }
    return v
  }
  throw new ConfigError(
    name,
    `must be sqlite:///abs/path.db, sqlite::memory: or postgres://user@host:port/db`,
  )
}

export function loadConfig(env: Env = process.env): Config {
  const host = str(env, 'MYNTRIX_HOST') ?? '127.0.0.1'
  if (!/^[\w.:-]+$/.test(host))
    throw new ConfigError('MYNTRIX_HOST', `must be a host name or IP address, got "${host}"`)
  const port = int(env, 'MYNTRIX_PORT', 8080, 0, 65535)
  const dataDir = path.resolve(str(env, 'MYNTRIX_DATA_DIR') ?? './data')

  const logLevel = (str(env, 'MYNTRIX_LOG_LEVEL') ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('MYNTRIX_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)
  }

  const adminPassword = str(env, 'MYNTRIX_ADMIN_PASSWORD') ?? null
  if (adminPassword !== null && adminPassword.length < 8) {
    throw new ConfigError('MYNTRIX_ADMIN_PASSWORD', 'must be at least 8 characters')
  }
  const jwtSecret = str(env, 'MYNTRIX_JWT_SECRET') ?? null
  if (jwtSecret !== null && jwtSecret.length < 32) {
    throw new ConfigError('MYNTRIX_JWT_SECRET', 'must be at least 32 characters')
  }
  const database = databaseUrl(env, dataDir)
  const cluster = clusterSettings(env, database.startsWith('postgres'))
  const uploadIdleTimeoutMs = int(env, 'MYNTRIX_UPLOAD_IDLE_TIMEOUT_MS', 30_000, 100, 3_600_000)
  const warnings: string[] = []

  return {
    host,
    port,
    dataDir,
    databaseUrl: database,
    adminPassword,
    jwtSecret,
    jwtTtlSeconds: int(env, 'MYNTRIX_JWT_TTL_SECONDS', 3600, 60, 7 * 24 * 3600),
    sessionTtlSeconds: int(env, 'MYNTRIX_SESSION_TTL_SECONDS', 28_800, 60, 30 * 24 * 3600),
    cookieSecure: bool(env, 'MYNTRIX_COOKIE_SECURE', false),
    auditRetentionDays: int(env, 'MYNTRIX_AUDIT_RETENTION_DAYS', 90, 0, 36_500),
    auditCoalesceSeconds: int(env, 'MYNTRIX_AUDIT_COALESCE_SECONDS', 60, 0, 3600),
    logLevel,
    loginMaxAttempts: int(env, 'MYNTRIX_LOGIN_MAX_ATTEMPTS', 5, 1, 1000),
    loginWindowSeconds: int(env, 'MYNTRIX_LOGIN_WINDOW_SECONDS', 300, 1, 86400),
    corsOrigin: str(env, 'MYNTRIX_CORS_ORIGIN') ?? null,
    streamAuthRecheckMs: int(env, 'MYNTRIX_STREAM_AUTH_RECHECK_MS', 30_000, 100, 3_600_000),
    uploadIdleTimeoutMs,
    heartbeatMs: heartbeatMs(env, warnings),
    outbound: outboundSettings(env),
    children: childrenSettings(env),
    agents: agentsSettings(env, dataDir),
    deviceFiles: deviceFilesSettings(env, dataDir, uploadIdleTimeoutMs),
    monitoring: monitoringSettings(env, dataDir),
    scheduler: schedulerSettings(env, warnings),
    notifications: notificationsSettings(env),
    cluster,
    warnings,
  }
}
