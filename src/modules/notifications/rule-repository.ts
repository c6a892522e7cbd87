// SQL for notification rules; snake_case stays in here (CamelCasePlugin maps it).

import type { Selectable } from 'kysely'
import type { Database, NotificationRulesTable } from '../../db/types.js'
import {
  fromDbBool,
  fromDbInt,
  fromDbJson,
  fromDbTime,
  toDbBool,
  toDbJson,
  toDbTime,
} from '../../db/values.js'
import type { NotificationRule, SinkSettings } from './rule-record.js'
import type { RuleFilter } from './schemas.js'

type Row = Selectable<NotificationRulesTable>

function toRule(row: Row): NotificationRule {
  const sink = fromDbJson<Omit<SinkSettings, 'type'>>(row.sink) ?? {}
  return {
    id: row.id,
    name: row.name,
    ownerId: row.ownerId,
    enabled: fromDbBool(row.enabled),
    filter: fromDbJson<RuleFilter>(row.filter) ?? { kinds: [] },
    cooldownSeconds: fromDbInt(row.cooldownSeconds),
    sink: { ...sink, type: row.sinkType } as SinkSettings,
    secret: row.sinkSecret,
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
  }
}

function columns(rule: NotificationRule) {
  const { type, ...sink } = rule.sink
  return {
    name: rule.name,
    enabled: toDbBool(rule.enabled),
    filter: toDbJson(rule.filter) ?? '{}',
    cooldownSeconds: rule.cooldownSeconds,
    sinkType: type,
    sink: toDbJson(sink) ?? '{}',
    sinkSecret: rule.secret,
    updatedAt: toDbTime(rule.updatedAt),
  }
}

export class RuleRepository {
  constructor(private readonly db: Database) {}

  async insert(rule: NotificationRule): Promise<void> {
    await this.db
      .insertInto('notificationRules')
      .values({ id: rule.id, ownerId: rule.ownerId, createdAt: toDbTime(rule.createdAt), ...columns(rule) })
      .execute()
  }

  /** Writes every changeable field of `rule` (the service merged the change into it). */
  async update(rule: NotificationRule): Promise<void> {
    await this.db.updateTable('notificationRules').set(columns(rule)).where('id', '=', rule.id).execute()
  }

  async get(id: string): Promise<NotificationRule | undefined> {
    const row = await this.db
      .selectFrom('notificationRules')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    return row && toRule(row)
  }

  /** Newest first; `ownerId` null lists every owner's. */
  async list(
    ownerId: string | null,
    page: { limit: number; offset: number },
  ): Promise<{ items: NotificationRule[]; total: number }> {
    let query = this.db.selectFrom('notificationRules')
    if (ownerId !== null) query = query.where('ownerId', '=', ownerId)
    const rows = await query.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute()
    const count = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
    return { items: rows.map(toRule), total: Number(count?.n ?? 0) }
  }

  async enabled(): Promise<NotificationRule[]> {
    const rows = await this.db
      .selectFrom('notificationRules')
      .selectAll()
      .where('enabled', '=', toDbBool(true))
      .execute()
    return rows.map(toRule)
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('notificationRules').where('id', '=', id).execute()
  }
}
