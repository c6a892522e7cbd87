// SQL for notification rules; snake_case stays in here (CamelCasePlugin maps it).

import type { Selectable } from 'kysely'
import { OwnedRuleStore } from '../../db/owned-rule-store.js'
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

/** The notification rules table: the shared owner-scoped store with this area's row mapping. */
export class RuleRepository extends OwnedRuleStore<'notificationRules', NotificationRule> {
  constructor(db: Database) {
    super(db, 'notificationRules', { toRule, columns })
  }
}
