// Users, logins, tokens and API keys. Knows nothing of HTTP: routes hand it
// plain values and a Principal.

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import { newId } from '../db/ids.js'
import type { Database } from '../db/types.js'
import { ConflictError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js'
import { LoginLimiter } from './login-limiter.js'
import { generatePassword, hashPassword, verifyPassword } from './passwords.js'
import { assertRole, type Principal, ROLES, type Role } from './principal.js'
import { type ApiKey, AuthRepository, type User } from './repository.js'

export const API_KEY_PREFIX = 'myx_'

export interface AuthServiceOptions {
  db: Database
  jwtSecret: string
  jwtTtlSeconds: number
  /** Lifetime of a browser session (cookie); default 8 h. */
  sessionTtlSeconds?: number
  loginMaxAttempts: number
  loginWindowSeconds: number
  now?: () => Date
}

export interface TokenResponse {
  access_token: string
  token_type: 'bearer'
  expires_in: number
}

export interface NewSession {
  /** The cookie value: shown to the browser once, stored only as its hash. */
  cookieValue: string
  id: string
  user: User
  expiresAt: Date
  maxAgeSeconds: number
}

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

function publicApiKey(k: ApiKey): PublicApiKey {
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

/** Every username (the login routes refuse others with 400: a name that cannot exist is not a failed login). */
export const USERNAME_PATTERN = '^[A-Za-z0-9_.@-]{1,64}$'
const USERNAME = new RegExp(USERNAME_PATTERN)

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

export class AuthService {
  readonly repo: AuthRepository
  private readonly limiter: LoginLimiter
  private readonly sign: (payload: Record<string, unknown>) => string
  private readonly verify: (token: string) => Record<string, unknown>
  private readonly now: () => Date
  // Key "last used" writes are throttled to one per key per minute.
  private readonly keyTouched = new Map<string, number>()

  constructor(private readonly options: AuthServiceOptions) {
    this.repo = new AuthRepository(options.db)
    this.now = options.now ?? (() => new Date())
    this.limiter = new LoginLimiter(options.loginMaxAttempts, options.loginWindowSeconds * 1000, () =>
      this.now().getTime(),
    )
    this.sign = createSigner({
      key: options.jwtSecret,
      algorithm: 'HS256',
      expiresIn: options.jwtTtlSeconds * 1000,
      iss: 'myntrix',
    }) as (payload: Record<string, unknown>) => string
    this.verify = createVerifier({
      key: options.jwtSecret,
      algorithms: ['HS256'],
      allowedIss: 'myntrix',
    }) as (token: string) => Record<string, unknown>
  }

  /**
   * First start with no users: create `admin`. Returns the generated password
   * when none was configured, so start-up can print it exactly once.
   */
  async ensureAdmin(
    configuredPassword: string | null,
  ): Promise<{ created: boolean; generatedPassword?: string }> {
    if ((await this.repo.countUsers()) > 0) return { created: false }
    const password = configuredPassword ?? generatePassword()
    const at = this.now()
    try {
      await this.repo.insertUser({
        id: newId(),
        username: 'admin',
        role: 'admin',
        disabled: false,
        passwordHash: await hashPassword(password),
        tokenVersion: 0,
        createdAt: at,
        updatedAt: at,
      })
    } catch (err) {
      // Another instance on the same database won the race: that is fine.
      if (await this.repo.findUserByName('admin')) return { created: false }
      throw err
    }
    return configuredPassword ? { created: true } : { created: true, generatedPassword: password }
  }

  async login(username: string, password: string, ip: string): Promise<{ token: TokenResponse; user: User }> {
    const user = await this.checkPassword(username, password, ip)
    return { token: this.issueToken(user), user }
  }

  /** The login rules shared by the token and the session routes (rate limit, timing, disabled users). */
  private async checkPassword(username: string, password: string, ip: string): Promise<User> {
    this.limiter.check(username, ip)
    const user = await this.repo.findUserByName(username)
    // Hash even for unknown users so timing does not reveal which names exist.
    let ok = false
    if (user) ok = await verifyPassword(password, user.passwordHash)
    else await verifyPassword(password, DUMMY_HASH)
    if (!user || !ok || user.disabled) {
      this.limiter.fail(username, ip)
      throw new UnauthorizedError('invalid username or password')
    }
    this.limiter.succeed(username, ip)
    return user
  }

  issueToken(user: User): TokenResponse {
    return {
      // `tv` ties the token to the user's current token version (a password
      // change bumps it); `jti` lets logout revoke exactly this token.
      access_token: this.sign({
        sub: user.id,
        username: user.username,
        role: user.role,
        tv: user.tokenVersion,
        jti: randomUUID(),
      }),
      token_type: 'bearer',
      expires_in: this.options.jwtTtlSeconds,
    }
  }

  /** Log in for a browser: a server-side session whose opaque id travels in an HttpOnly cookie. */
  async createSession(username: string, password: string, ip: string): Promise<NewSession> {
    const user = await this.checkPassword(username, password, ip)
    const cookieValue = randomBytes(32).toString('base64url')
    const maxAgeSeconds = this.options.sessionTtlSeconds ?? 28_800
    const createdAt = this.now()
    const expiresAt = new Date(createdAt.getTime() + maxAgeSeconds * 1000)
    const id = newId()
    await this.repo.insertSession(
      { id, userId: user.id, tokenVersion: user.tokenVersion, createdAt, expiresAt },
      sha256(cookieValue),
    )
    return { cookieValue, id, user, expiresAt, maxAgeSeconds }
  }

  /** Resolve a session cookie value to the caller. */
  async authenticateSession(cookieValue: string): Promise<Principal> {
    const found = cookieValue ? await this.repo.findSession(sha256(cookieValue)) : undefined
    if (!found) throw new UnauthorizedError('session not found or logged out; log in again')
    const { session, user } = found
    if (session.expiresAt <= this.now()) throw new UnauthorizedError('session expired; log in again')
    if (user.disabled) throw new UnauthorizedError('user no longer active')
    if (session.tokenVersion !== user.tokenVersion)
      throw new UnauthorizedError('session revoked by a password change; log in again')
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      via: 'session',
      credential: { sessionId: session.id },
    }
  }

  /** Resolve a bearer credential (JWT or myx_ API key) to the caller. */
  async authenticate(credential: string): Promise<Principal> {
    if (credential.startsWith(API_KEY_PREFIX)) return this.authenticateApiKey(credential)
    let claims: Record<string, unknown>
    try {
      claims = this.verify(credential)
    } catch (err) {
      const expired = (err as { code?: string }).code === 'FAST_JWT_EXPIRED'
      throw new UnauthorizedError(expired ? 'token expired' : 'invalid token')
    }
    const { sub, jti, tv, exp } = claims
    // Tokens from before revocation existed carry no jti/tv: they cannot be
    // revoked, so they are not accepted (a new login gives a revocable one).
    if (typeof jti !== 'string' || typeof tv !== 'number' || typeof exp !== 'number')
      throw new UnauthorizedError('token cannot be revoked; log in again')
    const found = await this.repo.findUserForToken(String(sub), jti)
    // Role and disabled state come from the database, so a change applies at once.
    if (!found || found.user.disabled) throw new UnauthorizedError('user no longer active')
    if (found.revoked) throw new UnauthorizedError('token logged out')
    if (found.user.tokenVersion !== tv)
      throw new UnauthorizedError('token revoked by a password change; log in again')
    const { user } = found
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      via: 'token',
      credential: { jti, expiresAt: new Date(exp * 1000) },
    }
  }

  /** Revokes the credential the caller used: the session, or this one JWT (until it would expire). */
  async logout(principal: Principal): Promise<void> {
    const credential = principal.credential
    if (!credential || 'apiKeyId' in credential) {
      throw new ConflictError('an API key is not a login; revoke it with DELETE /api/auth/api-keys/{id}')
    }
    if ('sessionId' in credential) await this.repo.deleteSession(credential.sessionId)
    else await this.repo.revokeToken(credential.jti, principal.id, credential.expiresAt)
  }

  /** Sessions and logged-out tokens past their expiry, `limit` rows a statement. */
  pruneExpiredSessions(limit: number): Promise<number> {
    return this.repo.pruneExpiredSessions(this.now(), limit)
  }

  pruneRevokedTokens(limit: number): Promise<number> {
    return this.repo.pruneRevokedTokens(this.now(), limit)
  }

  private async authenticateApiKey(credential: string): Promise<Principal> {
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
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      via: 'api-key',
      credential: { apiKeyId: key.id },
    }
  }

  async me(principal: Principal): Promise<PublicUser> {
    const user = await this.repo.findUserById(principal.id)
    if (!user) throw new NotFoundError('user', principal.id)
    return publicUser(user)
  }

  // ---- users (admin only) ----

  async listUsers(principal: Principal, limit: number, offset: number) {
    assertRole(principal, 'admin', 'manage users')
    const { items, total } = await this.repo.listUsers(limit, offset)
    return { items: items.map(publicUser), total }
  }

  async getUser(principal: Principal, id: string): Promise<PublicUser> {
    assertRole(principal, 'admin', 'manage users')
    const user = await this.repo.findUserById(id)
    if (!user) throw new NotFoundError('user', id)
    return publicUser(user)
  }

  async createUser(principal: Principal, input: { username: string; password: string; role: Role }) {
    assertRole(principal, 'admin', 'manage users')
    validateUsername(input.username)
    validatePassword(input.password)
    validateRole(input.role)
    if (await this.repo.findUserByName(input.username)) {
      throw new ConflictError(`username ${input.username} is taken`)
    }
    const at = this.now()
    const user: User = {
      id: newId(),
      username: input.username,
      role: input.role,
      disabled: false,
      passwordHash: await hashPassword(input.password),
      tokenVersion: 0,
      createdAt: at,
      updatedAt: at,
    }
    await this.repo.insertUser(user)
    return publicUser(user)
  }

  async updateUser(
    principal: Principal,
    id: string,
    patch: { password?: string; role?: Role; disabled?: boolean },
  ): Promise<PublicUser> {
    assertRole(principal, 'admin', 'manage users')
    const user = await this.repo.findUserById(id)
    if (!user) throw new NotFoundError('user', id)
    if (patch.role !== undefined) validateRole(patch.role)
    if (patch.password !== undefined) validatePassword(patch.password)
    const losesAdmin = user.role === 'admin' && (patch.role !== undefined ? patch.role !== 'admin' : false)
    if ((losesAdmin || (patch.disabled && user.role === 'admin')) && (await this.repo.countAdmins()) <= 1) {
      throw new ConflictError('cannot demote or disable the last active admin')
    }
    await this.repo.updateUser(
      id,
      {
        role: patch.role,
        disabled: patch.disabled,
        passwordHash: patch.password !== undefined ? await hashPassword(patch.password) : undefined,
      },
      this.now(),
      // A new password ends every login made with the old one (a leaked token
      // or cookie is the usual reason to change it). Disabling does too, so
      // enabling the user again does not bring old credentials back.
      patch.password !== undefined || patch.disabled === true,
    )
    return publicUser((await this.repo.findUserById(id))!)
  }

  async deleteUser(principal: Principal, id: string): Promise<void> {
    assertRole(principal, 'admin', 'manage users')
    const user = await this.repo.findUserById(id)
    if (!user) throw new NotFoundError('user', id)
    if (user.id === principal.id) throw new ConflictError('you cannot delete yourself')
    if (user.role === 'admin' && (await this.repo.countAdmins()) <= 1) {
      throw new ConflictError('cannot delete the last active admin')
    }
    const owned = await this.repo.countOwned(id)
    if (owned > 0) {
      throw new ConflictError(
        `user ${user.username} owns ${owned} resources; disable the user or delete them first`,
      )
    }
    await this.repo.deleteUser(id)
  }

  // ---- API keys (each user manages their own; admins see all) ----

  async createApiKey(principal: Principal, input: { name: string; expiresInDays?: number }) {
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

  async listApiKeys(principal: Principal, limit: number, offset: number) {
    const { items, total } = await this.repo.listApiKeys(
      principal.role === 'admin' ? null : principal.id,
      limit,
      offset,
    )
    return { items: items.map(publicApiKey), total }
  }

  async revokeApiKey(principal: Principal, id: string): Promise<void> {
    const key = await this.repo.findApiKey(id)
    if (!key || (principal.role !== 'admin' && key.userId !== principal.id))
      throw new NotFoundError('API key', id)
    await this.repo.revokeApiKey(id, this.now())
  }
}

// A fixed hash to verify against when the user does not exist.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='

function validateUsername(username: string): void {
  if (!USERNAME.test(username)) {
    throw new ValidationError('invalid username', [
      {
        path: 'username',
        message: `must be 1-64 characters of letters, digits and _ . @ -, got "${username}"`,
      },
    ])
  }
}

function validatePassword(password: string): void {
  if (password.length < 8) {
    throw new ValidationError('password too short', [
      { path: 'password', message: 'must be at least 8 characters' },
    ])
  }
}

function validateRole(role: string): void {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new ValidationError('invalid role', [
      { path: 'role', message: `must be one of ${ROLES.join(', ')}, got "${role}"` },
    ])
  }
}
