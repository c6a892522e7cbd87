// How an area plugs into the app. An area is built by a factory in
// src/modules/<area>/index.ts from the shared context, its own config section
// and the services of the areas it uses, and hands back its routes and its
// lifecycle. The context holds no settings and no credentials: an area sees
// only what it is handed.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify'
import type { Role } from '../auth/principal.js'
import type { ClusterNode } from '../cluster/index.js'
import type { WatchChanges } from '../db/change-feed.js'
import type { Database, DbEngine } from '../db/types.js'
import type { EventBus } from '../events/bus.js'
import type { Logger } from '../logger.js'
import type { OutboundPolicy } from '../net/outbound-policy.js'
import type { ProcessLiveness } from '../process/liveness.js'

/** The Fastify instance routes are registered on, typed by TypeBox schemas. */
export type AppInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

export interface AreaContext {
  /** This process among several sharing one database (UUIDv7, new at each start). */
  instanceId: string
  /** This process's heartbeat on the shared database, held while work is in flight. */
  liveness: ProcessLiveness
  /** Notices other processes' commits (the scheduler wakes on them instead of polling). */
  watchDbChanges: WatchChanges
  db: Database
  dbEngine: DbEngine
  /** This node among its peers (leases, forwarded requests); inert on one instance. */
  cluster: ClusterNode
  bus: EventBus
  logger: Logger
  /** Where non-admins may connect (one policy for devices and scheduler tasks). */
  outbound: OutboundPolicy
  /**
   * A user as they are now (role, disabled), or undefined once deleted: what the areas
   * ask of auth to act for an owner with the owner's current standing.
   */
  findUser: (id: string) => Promise<UserStanding | undefined>
}

export interface UserStanding {
  role: Role
  disabled: boolean
}

export interface Area {
  name: string
  /** Registers the area's routes (full paths, e.g. /api/myntrix/agents). */
  routes?(app: AppInstance): void | Promise<void>
  /** Called once the app is ready: start timers, reopen connections, resume processes. */
  start?(): Promise<void>
  /** Idempotent: clear timers, remove listeners, end children. Called in reverse order. */
  stop?(): Promise<void>
}
