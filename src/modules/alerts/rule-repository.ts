// SQL for alert rules; snake_case stays in here (CamelCasePlugin maps it).

import type { Selectable } from 'kysely'
import type { AlertRulesTable, Database } from '../../db/types.js'
import {
  fromDbBool,
  fromDbInt,
  fromDbJson,
  fromDbTime,
  toDbBool,
  toDbJson,
  toDbTime,
} from '../../db/values.js'
import {
  type AlertRule,
  type AlertSource,
  conditionOf,
  type Operator,
  type RuleKind,
  type SafetyAction,
} from './records.js'

type Row = Selectable<AlertRulesTable>

function toRule(row: Row): AlertRule {
  return {
    id: row.id,
    name: row.name,
    ownerId: row.ownerId,
    enabled: fromDbBool(row.enabled),
    source: row.source as AlertSource,
    metric: row.metric,
    deviceId: row.deviceId,
    kind: row.kind as RuleKind,
    operator: row.operator as Operator | null,
    threshold: numberOrNull(row.threshold),
    clearThreshold: numberOrNull(row.clearThreshold),
    targetMetric: row.targetMetric,
    delta: numberOrNull(row.delta),
    warmUpExempt: fromDbBool(row.warmUpExempt),
    actions: fromDbJson<SafetyAction[]>(row.actions) ?? [],
    forSeconds: fromDbInt(row.forSeconds),
    cooldownSeconds: fromDbInt(row.cooldownSeconds),
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
  }
}

const numberOrNull = (value: unknown) => (value === null || value === undefined ? null : Number(value))

function columns(rule: AlertRule) {
  return {
    name: rule.name,
    enabled: toDbBool(rule.enabled),
    ...conditionOf(rule),
    warmUpExempt: toDbBool(rule.warmUpExempt),
    actions: toDbJson(rule.actions) ?? '[]',
    forSeconds: rule.forSeconds,
    cooldownSeconds: rule.cooldownSeconds,
    updatedAt: toDbTime(rule.updatedAt),
  }
}

export class AlertRuleRepository {
  constructor(private readonly db: Database) {}

  async insert(rule: AlertRule): Promise<void> {
    await this.db
      .insertInto('alertRules')
      .values({ id: rule.id, ownerId: rule.ownerId, createdAt: toDbTime(rule.createdAt), ...columns(rule) })
      .execute()
  }

  async update(rule: AlertRule): Promise<void> {
    await this.db.updateTable('alertRules').set(columns(rule)).where('id', '=', rule.id).execute()
  }

  async get(id: string): Promise<AlertRule | undefined> {
    const row = await this.db.selectFrom('alertRules').selectAll().where('id', '=', id).executeTakeFirst()
    return row && toRule(row)
  }

  /** Newest first; `ownerId` null lists every owner's. */
  async list(
    ownerId: string | null,
    page: { limit: number; offset: number },
  ): Promise<{ items: AlertRule[]; total: number }> {
    let query = this.db.selectFrom('alertRules')
    if (ownerId !== null) query = query.where('ownerId', '=', ownerId)
    const rows = await query.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute()
    const count = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
    return { items: rows.map(toRule), total: Number(count?.n ?? 0) }
  }

  async enabled(): Promise<AlertRule[]> {
    const rows = await this.db
      .selectFrom('alertRules')
      .selectAll()
      .where('enabled', '=', toDbBool(true))
      .execute()
    return rows.map(toRule)
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('alertRules').where('id', '=', id).execute()
  }
}
