// SQL for alerts: one row per excursion, written at each change of state.

import type { Selectable } from 'kysely'
import type { AlertsTable, Database } from '../../db/types.js'
import { fromDbBool, fromDbJson, fromDbTime, toDbBool, toDbJson, toDbTime } from '../../db/values.js'
import { ACTIVE_STATES, type Alert, type AlertSource, type AlertState, type Transition } from './records.js'

type Row = Selectable<AlertsTable>

interface StoredTransition {
  state: AlertState
  value: number | null
  at: string
}

function toAlert(row: Row): Alert {
  const transitions = fromDbJson<StoredTransition[]>(row.transitions) ?? []
  return {
    id: row.id,
    ruleId: row.ruleId,
    ownerId: row.ownerId,
    resourceType: row.resourceType as AlertSource,
    resourceId: row.resourceId,
    node: row.node ?? null,
    state: row.state as AlertState,
    value: row.value === null ? null : Number(row.value),
    startedAt: fromDbTime(row.startedAt)!,
    firedAt: fromDbTime(row.firedAt),
    endedAt: fromDbTime(row.endedAt),
    notified: fromDbBool(row.notified),
    acknowledgedAt: fromDbTime(row.acknowledgedAt),
    acknowledgedBy: row.acknowledgedBy,
    transitions: transitions.map((t) => ({ state: t.state, value: t.value, at: new Date(t.at) })),
    updatedAt: fromDbTime(row.updatedAt)!,
  }
}

function storedTransitions(transitions: Transition[]): string {
  return (
    toDbJson(transitions.map((t) => ({ state: t.state, value: t.value, at: t.at.toISOString() }))) ?? '[]'
  )
}

function columns(alert: Alert) {
  return {
    state: alert.state,
    value: alert.value,
    firedAt: toDbTime(alert.firedAt),
    endedAt: toDbTime(alert.endedAt),
    notified: toDbBool(alert.notified),
    acknowledgedAt: toDbTime(alert.acknowledgedAt),
    acknowledgedBy: alert.acknowledgedBy,
    transitions: storedTransitions(alert.transitions),
    updatedAt: toDbTime(alert.updatedAt),
  }
}

export interface AlertListFilter {
  ownerId: string | null
  /** Only these states; omitted: all. */
  states?: readonly AlertState[]
  ruleId?: string
  node?: string
}

export class AlertRepository {
  constructor(private readonly db: Database) {}

  async insert(alert: Alert): Promise<void> {
    await this.db
      .insertInto('alerts')
      .values({
        id: alert.id,
        ruleId: alert.ruleId,
        ownerId: alert.ownerId,
        resourceType: alert.resourceType,
        resourceId: alert.resourceId,
        node: alert.node,
        startedAt: toDbTime(alert.startedAt),
        ...columns(alert),
      })
      .execute()
  }

  /** Writes the changeable fields; false when the alert is gone (its rule was deleted). */
  async update(alert: Alert): Promise<boolean> {
    const result = await this.db
      .updateTable('alerts')
      .set(columns(alert))
      .where('id', '=', alert.id)
      .executeTakeFirst()
    return Number(result.numUpdatedRows) > 0
  }

  async get(id: string): Promise<Alert | undefined> {
    const row = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst()
    return row && toAlert(row)
  }

  /** Newest first. */
  async list(filter: AlertListFilter, page: { limit: number; offset: number }) {
    let query = this.db.selectFrom('alerts')
    if (filter.ownerId !== null) query = query.where('ownerId', '=', filter.ownerId)
    if (filter.states) query = query.where('state', 'in', [...filter.states])
    if (filter.ruleId) query = query.where('ruleId', '=', filter.ruleId)
    if (filter.node) query = query.where('node', '=', filter.node)
    const rows = await query.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute()
    const count = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
    return { items: rows.map(toAlert), total: Number(count?.n ?? 0) }
  }

  /**
   * Pending and firing alerts (resumed at start). `node`: only those this node raised (and rows
   * older than nodes); omitted on one instance, where every alert is this server's.
   */
  async active(node?: string): Promise<Alert[]> {
    let query = this.db
      .selectFrom('alerts')
      .selectAll()
      .where('state', 'in', [...ACTIVE_STATES])
    if (node !== undefined)
      query = query.where((eb) => eb.or([eb('node', '=', node), eb('node', 'is', null)]))
    return (await query.execute()).map(toAlert)
  }

  /** When the rule's newest alert.firing went out (the cooldown survives a restart); `node` as in active(). */
  async lastNotifiedAt(ruleId: string, node?: string): Promise<Date | null> {
    let query = this.db
      .selectFrom('alerts')
      .select('firedAt')
      .where('ruleId', '=', ruleId)
      .where('notified', '=', toDbBool(true))
    if (node !== undefined)
      query = query.where((eb) => eb.or([eb('node', '=', node), eb('node', 'is', null)]))
    const row = await query.orderBy('firedAt', 'desc').limit(1).executeTakeFirst()
    return fromDbTime(row?.firedAt ?? null)
  }
}
