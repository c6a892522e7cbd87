// Column builders the migrations share. Most tables start with a text id,
// end with their creation and update times, and in between hold runs of
// columns of one type that are either all required or all optional; writing
// those once keeps every table declaring them the same way (the same
// constraint, the same engine type), so that a table reads as its list of
// columns. Each builder adds its columns in the order given: the column order
// is part of the schema and must not move.

import type { ColumnDefinitionBuilder, CreateTableBuilder } from 'kysely'
import type { EngineTypes, MigrationDb } from './types.js'

// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema, not the typed tables
type TableBuilder = CreateTableBuilder<any, any>

/** A column type as addColumn takes it ('text', t.time, ...). */
type DataTypeExpression = Parameters<TableBuilder['addColumn']>[1]

/** One step of a table's definition, for `createTable(...).$call(step)`. */
export type ColumnStep = (table: TableBuilder) => TableBuilder

const notNull = (c: ColumnDefinitionBuilder) => c.notNull()

/** `id text primary key`. */
export const idColumn: ColumnStep = (table) => table.addColumn('id', 'text', (c) => c.primaryKey())

/** `create table name (id text primary key, ...)`: the start of every table keyed by a generated id. */
export function keyedTable(db: MigrationDb, name: string): TableBuilder {
  return db.schema.createTable(name).$call(idColumn)
}

/** Columns of one type, each `not null`, in the order given. */
export function required(type: DataTypeExpression, ...names: string[]): ColumnStep {
  return (table) => names.reduce((built, name) => built.addColumn(name, type, notNull), table)
}

/** Columns of one type that may be null, in the order given. */
export function optional(type: DataTypeExpression, ...names: string[]): ColumnStep {
  return (table) => names.reduce((built, name) => built.addColumn(name, type), table)
}

/** created_at and updated_at, both required. */
export function timestamps(t: EngineTypes): ColumnStep {
  return required(t.time, 'created_at', 'updated_at')
}

/** owner_id, required, referencing users; `cascade` when the rows go with their user. */
export function ownerColumn(onDelete?: 'cascade'): ColumnStep {
  return (table) =>
    table.addColumn('owner_id', 'text', (c) => {
      const owned = c.notNull().references('users.id')
      return onDelete ? owned.onDelete(onDelete) : owned
    })
}

/**
 * The columns every owner-scoped rule table (db/owned-rule-store.ts) starts
 * with: id, name, an owner whose rules go with them, and the enabled flag.
 */
export function ownedRuleColumns(t: EngineTypes): ColumnStep {
  return (table) =>
    idColumn(table)
      .addColumn('name', 'text', notNull)
      .$call(ownerColumn('cascade'))
      .addColumn('enabled', t.bool, notNull)
}

/** A plain (non-unique, non-partial) index over `columns`, in that order. */
export async function createIndex(db: MigrationDb, name: string, table: string, columns: string[]) {
  await db.schema.createIndex(name).on(table).columns(columns).execute()
}

/** Drops the tables in the order given (dependents first), each only if it exists. */
export async function dropTables(db: MigrationDb, tables: string[]) {
  for (const table of tables) await db.schema.dropTable(table).ifExists().execute()
}
