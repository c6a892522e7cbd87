// The list convention (docs/ARCHITECTURE.md, HTTP conventions): a plain JSON array, `limit` (default
// 100, max 1000), `offset` with `skip` as an alias, the total in X-Total-Count.

import { type Static, Type } from '@sinclair/typebox'
import type { FastifyReply } from 'fastify'

export const LIST_DEFAULT_LIMIT = 100
export const LIST_MAX_LIMIT = 1000
/** Larger offsets would lose precision in a double and overflow SQL's OFFSET; no table is that long. */
export const LIST_MAX_OFFSET = Number.MAX_SAFE_INTEGER

export const ListQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: LIST_MAX_LIMIT, description: 'page size (default 100)' }),
  ),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: LIST_MAX_OFFSET, description: 'items to skip' })),
  skip: Type.Optional(Type.Integer({ minimum: 0, maximum: LIST_MAX_OFFSET, description: 'alias of offset' })),
})
export type ListQuery = Static<typeof ListQuery>

export interface Page {
  limit: number
  offset: number
}

export function pageOf(query: Partial<ListQuery>): Page {
  return { limit: query.limit ?? LIST_DEFAULT_LIMIT, offset: query.offset ?? query.skip ?? 0 }
}

/** Sets X-Total-Count and returns the items for the route to answer with. */
export function listReply<T>(reply: FastifyReply, items: T[], total: number): T[] {
  reply.header('X-Total-Count', String(total))
  return items
}
