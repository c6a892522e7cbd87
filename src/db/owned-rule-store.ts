// The store behind every owner-scoped rule table (notification rules, alert
// rules): one row a rule, an owner column that scopes who sees it, an enabled
// flag the engines load at start, ids that sort by creation. The areas differ
// only in how a rule maps to its row, so they hand this store that mapping
// and share the SQL, so that owner scoping and paging cannot drift apart.

import type { Kysely, Selectable } from 'kysely'
import type { Database, DB } from './types.js'
import { fromDbInt, toDbBool, toDbTime } from './values.js'

/** The tables whose rows are owner-scoped rules. */
export type OwnedRuleTable = 'notificationRules' | 'alertRules'

/** What the store needs of a rule; the rest is the area's own. */
export interface OwnedRule {
  id: string
  ownerId: string
  createdAt: Date
}

export interface RuleMapping<T extends OwnedRuleTable, Rule extends OwnedRule> {
  toRule(row: Selectable<DB[T]>): Rule
  /** The columns an update may change (everything but id, owner and creation time). */
  columns(rule: Rule): Record<string, unknown>
}

// biome-ignore lint/suspicious/noExplicitAny: see OwnedRuleStore.db
type UntypedDb = Kysely<any>

export class OwnedRuleStore<T extends OwnedRuleTable, Rule extends OwnedRule> {
  // Kysely cannot type a query over a table name that is a type parameter; the
  // tables named by OwnedRuleTable all have id, owner_id and enabled, which is
  // all the SQL below touches besides the mapping's own columns.
  private readonly db: UntypedDb

  private readonly table: string

  constructor(
    db: Database,
    table: T,
    private readonly mapping: RuleMapping<T, Rule>,
  ) {
    this.db = db as unknown as UntypedDb
    this.table = table
  }

  /** Rows come back untyped from the table-name-generic builder; they are rows of `T`. */
  private readonly toRule = (row: unknown): Rule => this.mapping.toRule(row as Selectable<DB[T]>)

  async insert(rule: Rule): Promise<void> {
    await this.db
      .insertInto(this.table)
      .values({
        id: rule.id,
        ownerId: rule.ownerId,
        createdAt: toDbTime(rule.createdAt),
        ...this.mapping.columns(rule),
      })
      .execute()
  }

  /** Writes every changeable field of `rule` (the service merged the change into it). */
  async update(rule: Rule): Promise<void> {
    await this.db.updateTable(this.table).set(this.mapping.columns(rule)).where('id', '=', rule.id).execute()
  }

  async get(id: string): Promise<Rule | undefined> {
    const row = await this.db.selectFrom(this.table).selectAll().where('id', '=', id).executeTakeFirst()
    return row && this.toRule(row)
  }

  /** Newest first; `ownerId` null lists every owner's. */
  async list(
    ownerId: string | null,
    page: { limit: number; offset: number },
  ): Promise<{ items: Rule[]; total: number }> {
    let query = this.db.selectFrom(this.table)
    if (ownerId !== null) query = query.where('ownerId', '=', ownerId)
    const rows = await query.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute()
    const count = await query.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst()
    return { items: rows.map(this.toRule), total: count ? fromDbInt(count.n) : 0 }
  }

  /** Every enabled rule of every owner: what an engine loads. */
  async enabled(): Promise<Rule[]> {
    const rows = await this.db
      .selectFrom(this.table)
      .selectAll()
      .where('enabled', '=', toDbBool(true))
      .execute()
    return rows.map(this.toRule)
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom(this.table).where('id', '=', id).execute()
  }
}
