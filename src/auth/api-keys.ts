// API keys: long-lived bearer credentials for scripts. Each user manages their
// own (admins see all); only the hash of a key's secret is stored, and the
// whole key is shown once, when it is created.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { newId } from '../db/ids.js'
import { ConflictError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js'
import { callerFrom, type Principal } from './principal.js'
import type { ApiKey, AuthRepository } from './repository.js'
import { API_KEY_PREFIX, publicApiKey } from './views.js'

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

export class ApiKeys {
  // "Last used" writes are throttled to one per key per minute.
  private readonly keyTouched = new Map<string, number>()

  constructor(
    private readonly repo: AuthRepository,
    private readonly now: () => Date,
  ) {}

  /** Resolve a `myx_<prefix>_<secret>` credential to the caller. */
  async authenticate(credential: string): Promise<Principal> {
    const rest = credential.slice(API_KEY_PREFIX.length)
    const sep = rest.indexOf('_')
    if (sep <= 0) throw new UnauthorizedError('invalid API key')
    const key = await this.repo.findApiKeyByPrefix(rest.slice(0, sep))
    const given = Buffer.from(sha256(rest.slice(sep + 1)), 'hex')
    if (!key || !timingSafeEqual(given, Buffer.from(key.keyHash, 'hex')))
      throw new UnauthorizedError('invalid API key')
    const now = this.now()
    if (key.revokedAt) throw new UnauthorizedError('API key revoked')
    if (key.expiresAt && key.expiresAt <= now) throw new UnauthorizedError('API key expired')
    const user = await this.repo.findUserById(key.userId)
    if (!user || user.disabled) throw new UnauthorizedError('user no longer active')
    // A password change or disabling since the key was made revokes it.
    if (key.tokenVersion !== user.tokenVersion) throw new UnauthorizedError('API key revoked')
    const last = this.keyTouched.get(key.id) ?? 0
    if (now.getTime() - last > 60_000) {
      this.keyTouched.set(key.id, now.getTime())
      await this.repo.touchApiKey(key.id, now)
    }
    return callerFrom(user, 'api-key', { apiKeyId: key.id })
  }

  async create(principal: Principal, input: { name: string; expiresInDays?: number }) {
    if (principal.via === 'api-key') {
      throw new ConflictError('an API key cannot create further API keys; log in with a password')
    }
    const name = input.name.trim()
    if (!name)
      throw new ValidationError('name must not be empty', [{ path: 'name', message: 'must not be empty' }])
    // Bound to the user's credentials as they are now: a later password change
    // or disabling (which bump the version) revokes this key too.
    const user = await this.repo.findUserById(principal.id)
    if (!user || user.disabled) throw new UnauthorizedError('user no longer active')
    const prefix = randomBytes(6).toString('hex')
    const secret = randomBytes(24).toString('base64url')
    const at = this.now()
    const key: ApiKey = {
      id: newId(),
      userId: principal.id,
      name,
      prefix,
      keyHash: sha256(secret),
      tokenVersion: user.tokenVersion,
      createdAt: at,
      lastUsedAt: null,
      expiresAt: input.expiresInDays ? new Date(at.getTime() + input.expiresInDays * 86_400_000) : null,
      revokedAt: null,
    }
    await this.repo.insertApiKey(key)
    // The only time the whole key is ever shown.
    return { ...publicApiKey(key), key: `${API_KEY_PREFIX}${prefix}_${secret}` }
  }

  async list(principal: Principal, limit: number, offset: number) {
    const { items, total } = await this.repo.listApiKeys(
      principal.role === 'admin' ? null : principal.id,
      limit,
      offset,
    )
    return { items: items.map(publicApiKey), total }
  }

  async revoke(principal: Principal, id: string): Promise<void> {
    const key = await this.repo.findApiKey(id)
    if (!key || (principal.role !== 'admin' && key.userId !== principal.id))
      throw new NotFoundError('API key', id)
    await this.repo.revokeApiKey(id, this.now())
  }
}
