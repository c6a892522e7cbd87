// The routes every owner-scoped rule resource has (notification rules, alert
// rules): the caller's list, one rule, and delete. The areas register their
// own create, update and further routes; these three read and delete the same
// way for every kind of rule (owner scoping in the area's service, 404 for
// another owner's rule, operators delete), so they are declared once.

import { type TSchema, Type } from '@sinclair/typebox'
import type { preHandlerHookHandler } from 'fastify'
import type { Principal } from '../auth/principal.js'
import type { AppInstance } from '../modules/area.js'
import { principalOf } from './auth-hook.js'
import { ListQuery } from './list.js'
import { ownedDeleteHandler } from './owned-delete.js'
import { type OwnedList, ownedListHandler } from './owned-list.js'

export const RuleIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })
export const RuleListQuery = Type.Object({ ...ListQuery.properties })
export const DeletedSchema = Type.Object({ message: Type.String(), id: Type.String() })

export interface OwnedRuleService<View> {
  list: OwnedList<View>
  get(principal: Principal, id: string): Promise<View>
  remove(principal: Principal, id: string): Promise<unknown>
}

export interface OwnedRuleRoutes<View> {
  /** The collection's path, e.g. /api/myntrix/alert-rules. */
  base: string
  tags: string[]
  /** The resource's name in summaries and the delete answer, e.g. 'alert rule'. */
  what: string
  /** The rule as answered. */
  schema: TSchema
  /** What else goes when a rule is deleted, for the delete route's summary. */
  deleteSummary: string
  /** Who may delete (the area's role check). */
  deleteGuard: preHandlerHookHandler
  service: OwnedRuleService<View>
}

/** Registers `GET base`, `GET base/:id` and `DELETE base/:id`. */
export function ownedRuleRoutes<View>(app: AppInstance, r: OwnedRuleRoutes<View>): void {
  const { base, tags, what, schema, service } = r
  app.get(
    base,
    {
      schema: {
        tags,
        summary: `The ${what}s the caller may see (their own; every rule for admins)`,
        querystring: RuleListQuery,
        response: { 200: { type: 'array', items: schema } },
      },
    },
    ownedListHandler((principal, page) => service.list(principal, page)),
  )
  app.get(
    `${base}/:id`,
    { schema: { tags, summary: `One ${what}`, params: RuleIdParams, response: { 200: schema } } },
    async (request) => service.get(principalOf(request), request.params.id),
  )
  app.delete(
    `${base}/:id`,
    {
      schema: { tags, summary: r.deleteSummary, params: RuleIdParams, response: { 200: DeletedSchema } },
      preHandler: r.deleteGuard,
    },
    ownedDeleteHandler(what, (principal, id) => service.remove(principal, id)),
  )
}
