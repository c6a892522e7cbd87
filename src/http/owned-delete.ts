// The handler of a delete-by-id route on an owner-scoped resource: the area's
// `remove` checks the caller may (404 for another owner's, 403 for a viewer)
// and deletes; the answer names what went, the shape DeletedSchema documents.

import type { FastifyRequest } from 'fastify'
import type { Principal } from '../auth/principal.js'
import { principalOf } from './auth-hook.js'

export type OwnedRemove = (principal: Principal, id: string) => Promise<unknown>

/** `what` names the resource in the answer's message, e.g. 'agent' → "agent deleted". */
export function ownedDeleteHandler(what: string, remove: OwnedRemove) {
  // The route's schema has validated params as { id: string }.
  return async (request: FastifyRequest): Promise<{ message: string; id: string }> => {
    const { id } = request.params as { id: string }
    await remove(principalOf(request), id)
    return { message: `${what} deleted`, id }
  }
}
