// The handler of every owner-scoped list route: the caller's page of what
// they may see (the area decides what that is from the principal), answered
// by the list convention of list.ts, each item through the area's view when it
// has one. One place, so that no list route can forget the principal or the
// X-Total-Count header.

import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Principal } from '../auth/principal.js'
import { principalOf } from './auth-hook.js'
import { type ListQuery, listReply, type Page, pageOf } from './list.js'

export type OwnedList<T> = (principal: Principal, page: Page) => Promise<{ items: T[]; total: number }>

type ListHandler<T> = (request: FastifyRequest, reply: FastifyReply) => Promise<T[]>

/** The route's schema has validated the querystring as a ListQuery (or one that extends it). */
export function ownedListHandler<T>(list: OwnedList<T>): ListHandler<T>
export function ownedListHandler<T, V>(list: OwnedList<T>, view: (item: T) => V): ListHandler<V>
export function ownedListHandler<T, V>(list: OwnedList<T>, view?: (item: T) => V): ListHandler<T | V> {
  return async (request, reply) => {
    const { items, total } = await list(principalOf(request), pageOf(request.query as Partial<ListQuery>))
    return listReply<T | V>(reply, view ? items.map(view) : items, total)
  }
}
