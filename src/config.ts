// Every setting comes from the environment and is validated once, here.
// A bad value throws ConfigError naming the variable and what is allowed;
// main.ts prints that one line and exits.

import path from 'node:path'
import { ConfigError } from './errors.js'
import {
  type AllowEntry,
  OUTBOUND_ALLOW_SETTING,
  OUTBOUND_PRIVATE_SETTING,
  parseOutboundAllow,
} from './net/outbound-policy.js'
import { type ChildUser, resolveChildUser } from './process/child-user.js'

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
  uploadMaxMb: number
  /** An upload that sends no bytes for this long is ended with 408 and its partial file removed. */
  uploadIdleTimeoutMs: number
  metricsPublic: boolean
  metricsIntervalMs: number
  metricsRetentionDays: number
  /**
   * Comma-separated host allow-list for the scheduler's `api` action; empty = any host the
   * outbound policy lets the task's owner reach. It only narrows; it never opens.
   */
  apiActionAllow: string[]
  /** Destinations non-admins may reach beyond the safe default (MYNTRIX_OUTBOUND_ALLOW). */
  outboundAllow: AllowEntry[]
  /** Whether non-admins may reach private ranges (MYNTRIX_OUTBOUND_PRIVATE=allow|deny, default allow). */
  outboundPrivate: boolean
  /**
   * The OS user agents and script tasks run as (MYNTRIX_CHILD_USER; `nobody` when
   * unset on a root server). undefined: the server's own user, so children can read
   * the server's secrets and only admins may decide what they run.
   */
  childUser: ChildUser | undefined
  /**
   * MYNTRIX_TRUST_OPERATORS: where children share the server's user, let operators
   * create, configure and start agents anyway (they can then read the server's
   * secrets). For a single-user machine, and the test suite run without root.
   */
  trustOperators: boolean
  /** Extra settings an area reads; kept as raw strings so areas validate their own. */
  raw: Record<string, string | undefined>
}

type Env = Record<string, string | undefined>

function str(env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

/** An integer setting in [min, max], `def` when unset; a bad value stops start-up naming the variable. */
export function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = str(env, name)
  if (v === undefined) return def
  if (!/^-?\d+$/.test(v))
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${v}"`)
  const n = Number(v)
  if (n < min || n > max)
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got ${n}`)
  return n
}

function bool(env: Env, name: string, def: boolean): boolean {
  const v = str(env, name)
  if (v === undefined) return def
  if (['true', '1', 'yes'].includes(v.toLowerCase())) return true
  if (['false', '0', 'no'].includes(v.toLowerCase())) return false
  throw new ConfigError(name, `must be true or false, got "${v}"`)
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

function outboundPrivate(env: Env): boolean {
  const v = str(env, OUTBOUND_PRIVATE_SETTING)?.toLowerCase()
  if (v === undefined || v === 'allow') return true
  if (v === 'deny') return false
  throw new ConfigError(OUTBOUND_PRIVATE_SETTING, `must be allow or deny, got "${v}"`)
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

  return {
    host,
    port,
    dataDir,
    databaseUrl: databaseUrl(env, dataDir),
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
    uploadMaxMb: int(env, 'MYNTRIX_UPLOAD_MAX_MB', 50, 1, 10_000),
    uploadIdleTimeoutMs: int(env, 'MYNTRIX_UPLOAD_IDLE_TIMEOUT_MS', 30_000, 100, 3_600_000),
    metricsPublic: bool(env, 'MYNTRIX_METRICS_PUBLIC', false),
    metricsIntervalMs: int(env, 'MYNTRIX_METRICS_INTERVAL_MS', 1000, 100, 3_600_000),
    metricsRetentionDays: int(env, 'MYNTRIX_METRICS_RETENTION_DAYS', 7, 1, 3650),
    apiActionAllow: (str(env, 'MYNTRIX_API_ACTION_ALLOW') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    outboundAllow: parseOutboundAllow(str(env, OUTBOUND_ALLOW_SETTING)),
    outboundPrivate: outboundPrivate(env),
    childUser: resolveChildUser(str(env, 'MYNTRIX_CHILD_USER')),
    trustOperators: bool(env, 'MYNTRIX_TRUST_OPERATORS', false),
    raw: { ...env },
  }
}
