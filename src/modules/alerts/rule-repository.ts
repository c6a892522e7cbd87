// SQL for alert rules; snake_case stays in here (CamelCasePlugin maps it).

import type { Selectable } from 'kysely'
import { OwnedRuleStore } from '../../db/owned-rule-store.js'
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
    mount: row.mount ?? null,
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

/** The alert rules table: the shared owner-scoped store with this area's row mapping. */
export class AlertRuleRepository extends OwnedRuleStore<'alertRules', AlertRule> {
  constructor(db: Database) {
    super(db, 'alertRules', { toRule, columns })
  }
}
