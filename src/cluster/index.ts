// A node's part in a cluster, built once per process by buildApp. Without
// MYNTRIX_REDIS_URL it is one instance: the in-process bus, no leases, no rpc,
// and nothing written while idle (exactly as before scale-out). With it: the
// node joins the membership, keeps it fresh, holds leases, answers forwarded
// requests and shares its events (docs/SCALE-OUT.md). What it puts in Redis is
// sealed with a key from the JWT secret (message-seal.ts): Redis carries, it is
// not trusted.

import type { Redis } from 'ioredis'
import type { ClusterSettings } from '../config/index.js'
import type { Database, DbEngine } from '../db/types.js'
import { EventBus } from '../events/bus.js'
import type { Logger } from '../logger.js'
import { LeaseManager } from './leases.js'
import { Membership, type NodeIdentity } from './membership.js'
import { MessageSeal } from './message-seal.js'
import { RedisEventBus } from './redis-bus.js'
import { MESSAGE_MAX_AGE_MS, RedisLink, type RedisLinkOptions } from './redis-link.js'
import { NodeRpc } from './rpc.js'
import { assertMayStart } from './start-check.js'

export interface ClusterNode {
  node: NodeIdentity
  membership: Membership
  /** How often leases are renewed; services reconcile what they hold at the same pace. */
  renewIntervalMs: number
  /** How long a forwarded request waits for its holder by default (MYNTRIX_RPC_TIMEOUT_MS). */
  rpcTimeoutMs: number
  bus: EventBus
  /** Null on one instance: everything is this node's. */
  leases: LeaseManager | null
  rpc: NodeRpc | null
  /** A command connection to the cluster's Redis, for counters all nodes share (the login limit); null on one instance. */
  redis: Redis | null
  /** Seals what is stored in Redis for other nodes to read (the devices' last telemetry); null on one instance. */
  seal: MessageSeal | null
  /** Renewals and rpc begin; call once the areas have registered their rpc handlers. */
  start(): Promise<void>
  /** Idempotent: releases the leases still held, leaves the membership, closes Redis. */
  stop(): Promise<void>
}

export interface ClusterDeps {
  settings: ClusterSettings
  db: Database
  engine: DbEngine
  instanceId: string
  logger: Logger
  /** The JWT secret, the same on every node: the key of what goes through Redis is derived from it. */
  secret: string
}

/** How often each kind of dropped message is reported, at most. */
const REJECTED_REPORT_MS = 60_000

const REJECTED_CAUSE = {
  forged:
    "not sealed with this node's key: a node with another MYNTRIX_JWT_SECRET, or something else publishing on Redis",
  malformed:
    'not sealed at all: a node of a Myntrix version before sealing, or something else publishing on Redis',
  stale: `sent more than ${MESSAGE_MAX_AGE_MS / 1000} s ago by the sender's clock: a replay, or a node whose clock is off (keep clocks in sync with NTP)`,
} as const

/** One warning per kind of dropped message and minute, with how many were dropped since the last. */
function reportRejected(logger: Logger): RedisLinkOptions['onRejected'] {
  const counts = new Map<keyof typeof REJECTED_CAUSE, { dropped: number; reportedAt: number }>()
  return (channel, reason) => {
    const now = Date.now()
    const c = counts.get(reason) ?? { dropped: 0, reportedAt: Number.NEGATIVE_INFINITY }
    counts.set(reason, c)
    c.dropped++
    if (now - c.reportedAt < REJECTED_REPORT_MS) return
    logger.warn(
      { channel, reason, dropped: c.dropped },
      `cluster: dropped messages from Redis ${REJECTED_CAUSE[reason]}`,
    )
    c.dropped = 0
    c.reportedAt = now
  }
}

/** Checks the peers on the database (ConfigError when this start would be unsafe) and connects. */
export async function joinCluster(deps: ClusterDeps): Promise<ClusterNode> {
  const { settings, db, engine, logger } = deps
  const node = { id: deps.instanceId, name: settings.nodeName }
  const membership = new Membership(db, engine, node, settings.leaseTtlMs)
  // SQLite serves one process on one host (loadConfig refuses Redis with it): no peers to check.
  if (engine === 'postgres') await assertMayStart(membership, settings.redisUrl !== null)
  if (settings.redisUrl === null) {
    return {
      node,
      membership,
      renewIntervalMs: settings.renewIntervalMs,
      rpcTimeoutMs: settings.rpcTimeoutMs,
      bus: new EventBus(),
      leases: null,
      rpc: null,
      redis: null,
      seal: null,
      start: async () => {},
      stop: async () => {},
    }
  }
  const onError = (err: unknown) => logger.warn({ err }, 'cluster: Redis connection error; reconnecting')
  const seal = new MessageSeal(deps.secret)
  const link = await RedisLink.connect(settings.redisUrl, {
    onError,
    seal,
    onRejected: reportRejected(logger),
  })
  const leases = new LeaseManager({
    db,
    engine,
    membership,
    ttlMs: settings.leaseTtlMs,
    renewIntervalMs: settings.renewIntervalMs,
    onError: (err) => logger.warn({ err }, 'cluster: lease renewal failed; retrying'),
  })
  const rpc = new NodeRpc({ link, nodeId: node.id, timeoutMs: settings.rpcTimeoutMs, logger })
  let stopped = false
  return {
    node,
    membership,
    renewIntervalMs: settings.renewIntervalMs,
    rpcTimeoutMs: settings.rpcTimeoutMs,
    bus: new RedisEventBus(link, node.id, logger),
    leases,
    rpc,
    redis: link.pub,
    seal,
    async start() {
      await rpc.start()
      await leases.start()
      logger.info({ node: node.name, nodeId: node.id }, `cluster: node "${node.name}" joined`)
    },
    async stop() {
      if (stopped) return
      stopped = true
      await leases.stop()
      await rpc.stop()
      await link.close()
    },
  }
}
