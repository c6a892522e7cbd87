// SQL for agents; snake_case stays in here (CamelCasePlugin maps it).

import type { Expression, SqlBool } from 'kysely'
import { oldestFirstPage } from '../../db/page.js'
import type { Database } from '../../db/types.js'
import { fromDbInt, fromDbJson, fromDbTime, toDbJson, toDbTime } from '../../db/values.js'
import type { ProcessIdentity } from '../../process/identity.js'
import { decodeProcess, encodeStartTime } from '../../process/identity.js'
import type { AgentStatus } from './agent-entry.js'
import type { HealthDetails } from './health.js'

export type DesiredState = 'running' | 'stopped'

export interface StoredExit {
  code: number | null
  signal: string | null
  at: string
  /** Absent in rows written before OOM kills were recorded. */
  oomKilled?: boolean
}

/** An agent as stored: its definition and the last state the supervisor reported. */
export interface AgentRecord {
  id: string
  name: string
  type: string
  status: AgentStatus
  desiredState: DesiredState
  health: number
  healthDetails: HealthDetails | null
  lastRun: Date | null
  configuration: Record<string, unknown>
  ownerId: string
  /** The process last recorded as running (for orphan recovery), or null. */
  process: ProcessIdentity | null
  startedAt: Date | null
  restarts: number
  lastExit: StoredExit | null
  statusReason: string | null
  createdAt: Date
  updatedAt: Date
  /** The node name the agent runs on (its command and cwd are that host's); null = any node. */
  nodeAffinity: string | null
  /** The node name that recorded `process`: only it (or a node on its host once it is gone) ends it. */
  processNode: string | null
}

/** What an update changes; absent keys stay. */
export interface DefinitionPatch {
  name?: string
  type?: string
  configuration?: Record<string, unknown>
  nodeAffinity?: string | null
}

/** A write's guard: it lands only while this node still holds the agent's lease (src/cluster/leases.ts). */
export type WriteFence = Expression<SqlBool> | undefined

/** The live state the supervisor reports; written without touching updatedAt. */
export interface AgentRuntimeState {
  status: AgentStatus
  statusReason: string | null
  health: number
  healthDetails: HealthDetails | null
  process: ProcessIdentity | null
  startedAt: Date | null
  restarts: number
  lastExit: StoredExit | null
  lastRun?: Date
}

type Row = {
  id: string
  name: string
  type: string
  status: string
  desiredState: string
  health: number | string
  healthDetails: unknown
  lastRun: unknown
  configuration: unknown
  ownerId: string
  pid: number | string | null
  pidStartTime: string | null
  startedAt: unknown
  restarts: number | string
  lastExit: unknown
  statusReason: string | null
  createdAt: unknown
  updatedAt: unknown
  nodeAffinity: string | null
  processNode: string | null
}

function toRecord(row: Row): AgentRecord {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    status: row.status as AgentStatus,
    desiredState: row.desiredState === 'running' ? 'running' : 'stopped',
    health: fromDbInt(row.health),
    healthDetails: fromDbJson<HealthDetails>(row.healthDetails),
    lastRun: fromDbTime(row.lastRun),
    configuration: fromDbJson(row.configuration) ?? {},
    ownerId: row.ownerId,
    process: decodeProcess(row.pid, row.pidStartTime),
    startedAt: fromDbTime(row.startedAt),
    restarts: fromDbInt(row.restarts),
    lastExit: fromDbJson<StoredExit>(row.lastExit),
    statusReason: row.statusReason,
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
    nodeAffinity: row.nodeAffinity ?? null,
    processNode: row.processNode ?? null,
  }
}

export class AgentsRepository {
  /** nodeName: recorded beside every process this node writes (processNode). */
  constructor(
    private readonly db: Database,
    readonly nodeName: string | null = null,
  ) {}

  async insert(a: AgentRecord): Promise<void> {
    await this.db
      .insertInto('agents')
      .values({
        id: a.id,
        name: a.name,
        type: a.type,
        status: a.status,
        desiredState: a.desiredState,
        health: a.health,
        healthDetails: toDbJson(a.healthDetails),
        lastRun: toDbTime(a.lastRun),
        configuration: toDbJson(a.configuration),
        ownerId: a.ownerId,
        pid: a.process?.pid ?? null,
        pidStartTime: encodeStartTime(a.process),
        startedAt: toDbTime(a.startedAt),
        restarts: a.restarts,
        lastExit: toDbJson(a.lastExit),
        statusReason: a.statusReason,
        createdAt: toDbTime(a.createdAt),
        updatedAt: toDbTime(a.updatedAt),
        nodeAffinity: a.nodeAffinity,
        processNode: a.process ? a.processNode : null,
      })
      .execute()
  }

  async get(id: string): Promise<AgentRecord | null> {
    const row = await this.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toRecord(row as Row) : null
  }

  /** ownerId null: every agent (admins). */
  async list(ownerId: string | null, page: { limit: number; offset: number }) {
    let q = this.db.selectFrom('agents')
    if (ownerId !== null) q = q.where('ownerId', '=', ownerId)
    const { rows, total } = await oldestFirstPage(q, page)
    return { items: rows.map((r) => toRecord(r as Row)), total }
  }

  /** Every agent, for start-up recovery. */
  async all(): Promise<AgentRecord[]> {
    const rows = await this.db.selectFrom('agents').selectAll().orderBy('createdAt', 'asc').execute()
    return rows.map((r) => toRecord(r as Row))
  }

  /**
   * False when nothing changed: the agent is gone, or (with a nodeAffinity) it was
   * started meanwhile; an affinity is written only to a stopped agent (./affinity.ts).
   */
  async updateDefinition(id: string, patch: DefinitionPatch, now: Date): Promise<boolean> {
    let q = this.db
      .updateTable('agents')
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.type !== undefined ? { type: patch.type } : {}),
        ...(patch.configuration !== undefined ? { configuration: toDbJson(patch.configuration) } : {}),
        ...(patch.nodeAffinity !== undefined ? { nodeAffinity: patch.nodeAffinity } : {}),
        updatedAt: toDbTime(now),
      })
      .where('id', '=', id)
    if (patch.nodeAffinity !== undefined) q = q.where('desiredState', '=', 'stopped')
    const result = await q.executeTakeFirst()
    return Number(result.numUpdatedRows) > 0
  }

  async setDesiredState(id: string, desiredState: DesiredState): Promise<void> {
    await this.db.updateTable('agents').set({ desiredState }).where('id', '=', id).execute()
  }

  async updateRuntime(id: string, s: AgentRuntimeState, fence?: WriteFence): Promise<void> {
    let q = this.db
      .updateTable('agents')
      .set({
        status: s.status,
        statusReason: s.statusReason,
        health: s.health,
        healthDetails: toDbJson(s.healthDetails),
        pid: s.process?.pid ?? null,
        pidStartTime: encodeStartTime(s.process),
        processNode: s.process ? this.nodeName : null,
        startedAt: toDbTime(s.startedAt),
        restarts: s.restarts,
        lastExit: toDbJson(s.lastExit),
        ...(s.lastRun ? { lastRun: toDbTime(s.lastRun) } : {}),
      })
      .where('id', '=', id)
    if (fence) q = q.where(fence)
    await q.execute()
  }

  /**
   * An agent whose node was lost (lost-node.ts): `error` with the reason. The
   * recorded process stays unless a live node ended it (its node ends it when it
   * comes back). False when the guard refused (a node holds the agent now).
   */
  async markNodeLost(id: string, reason: string, processEnded: boolean, guard: WriteFence): Promise<boolean> {
    let q = this.db
      .updateTable('agents')
      .set({
        status: 'error',
        statusReason: reason,
        health: 0,
        ...(processEnded ? { pid: null, pidStartTime: null, processNode: null, startedAt: null } : {}),
      })
      .where('id', '=', id)
    if (guard) q = q.where(guard)
    const result = await q.executeTakeFirst()
    return Number(result.numUpdatedRows) > 0
  }

  async updateHealth(
    id: string,
    health: number,
    healthDetails: HealthDetails,
    fence?: WriteFence,
  ): Promise<void> {
    let q = this.db
      .updateTable('agents')
      .set({ health, healthDetails: toDbJson(healthDetails) })
      .where('id', '=', id)
    if (fence) q = q.where(fence)
    await q.execute()
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('agents').where('id', '=', id).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }
}
