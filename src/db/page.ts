// One page of a list, the way every list route pages: oldest first, and the
// total the query matches (for X-Total-Count).

import type { SelectQueryBuilder } from 'kysely'
import { fromDbInt } from './values.js'

export interface Page {
  limit: number
  offset: number
}

/**
 * The page of `query`'s rows (every column), ordered by created_at and then id
 * so that ties keep one order, with the total. A page that is not full ends
 * the list and so tells the total: only a full page, or an empty one past the
 * end, pays for the count query, which would otherwise be a second statement
 * on every list call.
 */
export async function oldestFirstPage<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  page: Page,
): Promise<{ rows: unknown[]; total: number }> {
  // The tables paged here all have created_at and id; the generic builder cannot say so.
  // biome-ignore lint/suspicious/noExplicitAny: see above
  const q = query as unknown as SelectQueryBuilder<any, any, any>
  const rows = await q
    .selectAll()
    .orderBy('createdAt', 'asc')
    .orderBy('id', 'asc')
    .limit(page.limit)
    .offset(page.offset)
    .execute()
  if (rows.length < page.limit && (rows.length > 0 || page.offset === 0)) {
    return { rows, total: page.offset + rows.length }
  }
  const count = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()
  return { rows, total: fromDbInt(count.n) }
}

/**
 * How many rows `query` matches: the total of a list, for X-Total-Count.
 * `query` is the list's filtered base, before any selection, order or page.
 */
export async function countOf<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
): Promise<number> {
  // biome-ignore lint/suspicious/noExplicitAny: counting needs no column of the generic table
  const q = query as unknown as SelectQueryBuilder<any, any, any>
  const count = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst()
  return fromDbInt(count?.n ?? 0)
}
