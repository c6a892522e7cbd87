// Who is calling, and the reusable access rules every area applies:
// role checks and owner scoping. Domain code takes a Principal, never a request.

import { ForbiddenError, NotFoundError } from '../errors.js'

export const ROLES = ['admin', 'operator', 'viewer'] as const
export type Role = (typeof ROLES)[number]

export interface Principal {
  id: string
  username: string
  role: Role
  /** 'token' for a JWT, 'api-key' for a myx_ key, 'session' for a browser session cookie. */
  via: 'token' | 'api-key' | 'session'
  /**
   * Which credential this is, so logout can revoke exactly it: the JWT's `jti`
   * and expiry, the session's id, or the API key's id.
   */
  credential?: { jti: string; expiresAt: Date } | { sessionId: string } | { apiKeyId: string }
}

/** The caller a credential resolved to: its user as the database has it now, and which credential it was. */
export function callerFrom(
  user: { id: string; username: string; role: Role },
  via: Principal['via'],
  credential: NonNullable<Principal['credential']>,
): Principal {
  return { id: user.id, username: user.username, role: user.role, via, credential }
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

export function hasRole(principal: Principal, least: Role): boolean {
  return RANK[principal.role] >= RANK[least]
}

/** Throws 403 unless the caller has at least `least`. */
export function assertRole(principal: Principal, least: Role, action = 'do this'): void {
  if (!hasRole(principal, least)) {
    throw new ForbiddenError(`role ${principal.role} may not ${action}; it needs ${least} or higher`)
  }
}

/**
 * The owner filter a repository applies to lists and lookups: null means
 * "everything" (admins), otherwise only rows whose owner_id is the caller.
 */
export function ownerScope(principal: Principal): string | null {
  return principal.role === 'admin' ? null : principal.id
}

/** Another owner's resource answers 404, so its existence is not revealed. */
export function assertOwns(
  principal: Principal,
  resource: { ownerId: string | null },
  kind: string,
  id: string,
): void {
  if (principal.role !== 'admin' && resource.ownerId !== principal.id) throw new NotFoundError(kind, id)
}

/** Fetch-then-check in one step for services: 404 for missing and for foreign rows. */
export function visibleOr404<T extends { ownerId: string | null }>(
  principal: Principal,
  resource: T | undefined | null,
  kind: string,
  id: string,
): T {
  if (!resource) throw new NotFoundError(kind, id)
  assertOwns(principal, resource, kind, id)
  return resource
}
