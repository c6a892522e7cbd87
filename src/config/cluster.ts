// The cluster section (docs/SCALE-OUT.md): which node this process is, where
// the Redis that carries live data between instances is, and how long an
// ownership lease lasts. PostgreSQL coordinates (membership, leases); Redis
// only moves events and forwarded requests. Without MYNTRIX_REDIS_URL the
// process is one instance with the in-process bus, as it always was.

import { hostname } from 'node:os'
import { ConfigError } from '../errors.js'
import { type Env, int, str } from './env.js'

export interface ClusterSettings {
  /** Stable across restarts (MYNTRIX_NODE_NAME, default the host name): what `nodeAffinity` names. */
  nodeName: string
  /**
   * redis:// or rediss:// URL; null = one instance, in-process bus. Always null on
   * SQLite: a SQLite file serves one process, and there MYNTRIX_REDIS_URL only tells
   * the outbound policy which port to keep from non-admins (as before scale-out).
   */
  redisUrl: string | null
  /** How long a lease (and the node's membership) lasts without a renewal. */
  leaseTtlMs: number
  /** How often a node renews its membership and every lease it holds (one statement). */
  renewIntervalMs: number
  /** How long a request forwarded to the holder of a resource waits for its answer. */
  rpcTimeoutMs: number
}

/**
 * Letters, digits, `.`, `_`, `-`: a host name's alphabet, safe in a Redis channel and a Docker label.
 * Also what an agent's `nodeAffinity` must be, so an affinity can always name a node that may exist.
 */
export const NODE_NAME_PATTERN = '^[A-Za-z0-9._-]{1,128}$'
const NODE_NAME = new RegExp(NODE_NAME_PATTERN)

export function nodeName(env: Env): string {
  const set = str(env, 'MYNTRIX_NODE_NAME')
  if (set === undefined) return hostname()
  if (!NODE_NAME.test(set)) {
    throw new ConfigError(
      'MYNTRIX_NODE_NAME',
      `must be 1-128 letters, digits, ".", "_" or "-", got "${set.slice(0, 140)}"`,
    )
  }
  return set
}

function redisUrl(env: Env): string | null {
  const name = 'MYNTRIX_REDIS_URL'
  const v = str(env, name)
  if (v === undefined) return null
  let url: URL
  try {
    url = new URL(v)
  } catch {
    throw new ConfigError(name, 'must be a redis://host:port or rediss://host:port URL')
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(name, `must be a redis:// or rediss:// URL, got "${url.protocol}"`)
  }
  return v
}

export function clusterSettings(env: Env, onPostgres: boolean): ClusterSettings {
  const leaseTtlMs = int(env, 'MYNTRIX_LEASE_TTL_MS', 15_000, 1000, 600_000)
  const renewIntervalMs = int(env, 'MYNTRIX_LEASE_RENEW_MS', 5000, 100, 300_000)
  // A holder that misses renewals stops its work after ttl - renew; that must leave
  // room for at least one more renewal, or one slow statement would stop everything.
  if (renewIntervalMs * 2 > leaseTtlMs) {
    throw new ConfigError(
      'MYNTRIX_LEASE_RENEW_MS',
      `must be at most half of MYNTRIX_LEASE_TTL_MS (${leaseTtlMs}), got ${renewIntervalMs}`,
    )
  }
  return {
    nodeName: nodeName(env),
    redisUrl: onPostgres ? redisUrl(env) : null,
    leaseTtlMs,
    renewIntervalMs,
    rpcTimeoutMs: int(env, 'MYNTRIX_RPC_TIMEOUT_MS', 5000, 100, 120_000),
  }
}
