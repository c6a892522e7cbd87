// What the API shows of users and API keys: never a password hash, a key's
// hash or its secret.

import type { Role } from './principal.js'
import type { ApiKey, User } from './repository.js'

/** Every API key starts with this, so a bearer credential tells at a glance whether it is a key or a JWT. */
export const API_KEY_PREFIX = 'myx_'

export interface PublicUser {
  id: string
  username: string
  role: Role
  disabled: boolean
  createdAt: string
  updatedAt: string
}

export interface PublicApiKey {
  id: string
  name: string
  prefix: string
  userId: string
  createdAt: string
  lastUsedAt: string | null
  expiresAt: string | null
  revokedAt: string | null
}

export function publicUser(u: User): PublicUser {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    disabled: u.disabled,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  }
}

export function publicApiKey(k: ApiKey): PublicApiKey {
  return {
    id: k.id,
    name: k.name,
    prefix: API_KEY_PREFIX + k.prefix,
    userId: k.userId,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    expiresAt: k.expiresAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  }
}
