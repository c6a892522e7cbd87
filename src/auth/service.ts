// Logins, tokens, sessions and resolving a credential to its caller; users
// (users.ts) and API keys (api-keys.ts) are managed by their own classes,
// reached through this one. Knows nothing of HTTP: routes hand it plain values
// and a Principal.

import { randomBytes, randomUUID } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import { newId } from '../db/ids.js'
import type { Database } from '../db/types.js'
import { ConflictError, NotFoundError, UnauthorizedError } from '../errors.js'
import { ApiKeys, sha256 } from './api-keys.js'
import { type LoginLimit, LoginLimiter } from './login-limiter.js'
import { generatePassword, hashPassword, verifyPassword } from './passwords.js'
import { callerFrom, type Principal } from './principal.js'
import { AuthRepository, type User } from './repository.js'
import { UserAdmin } from './users.js'
import { API_KEY_PREFIX, type PublicUser, publicUser } from './views.js'

export interface AuthServiceOptions {
  db: Database
  jwtSecret: string
  jwtTtlSeconds: number
  /** Lifetime of a browser session (cookie); default 8 h. */
  sessionTtlSeconds?: number
  loginMaxAttempts: number
  loginWindowSeconds: number
  /** Where failed logins are counted; default this process's memory (a cluster passes its Redis one). */
  loginLimiter?: LoginLimit
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

export class AuthService {
  readonly repo: AuthRepository
  /** Users, managed by admins. */
  readonly users: UserAdmin
  /** Each user's API keys. */
  readonly apiKeys: ApiKeys
  private readonly limiter: LoginLimit
  private readonly sign: (payload: Record<string, unknown>) => string
  private readonly verify: (token: string) => Record<string, unknown>
  private readonly now: () => Date

  constructor(private readonly options: AuthServiceOptions) {
    this.repo = new AuthRepository(options.db)
    this.now = options.now ?? (() => new Date())
    this.users = new UserAdmin(this.repo, this.now)
    this.apiKeys = new ApiKeys(this.repo, this.now)
    this.limiter =
      options.loginLimiter ??
      new LoginLimiter(options.loginMaxAttempts, options.loginWindowSeconds * 1000, () =>
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
    await this.limiter.check(username, ip)
    const user = await this.repo.findUserByName(username)
    // Hash even for unknown users so timing does not reveal which names exist.
    let ok = false
    if (user) ok = await verifyPassword(password, user.passwordHash)
    else await verifyPassword(password, DUMMY_HASH)
    if (!user || !ok || user.disabled) {
      await this.limiter.fail(username, ip)
      throw new UnauthorizedError('invalid username or password')
    }
    await this.limiter.succeed(username, ip)
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
    return callerFrom(user, 'session', { sessionId: session.id })
  }

  /** Resolve a bearer credential (JWT or myx_ API key) to the caller. */
  async authenticate(credential: string): Promise<Principal> {
    if (credential.startsWith(API_KEY_PREFIX)) return this.apiKeys.authenticate(credential)
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
    return callerFrom(user, 'token', { jti, expiresAt: new Date(exp * 1000) })
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

  async me(principal: Principal): Promise<PublicUser> {
    const user = await this.repo.findUserById(principal.id)
    if (!user) throw new NotFoundError('user', principal.id)
    return publicUser(user)
  }
}

// A fixed hash to verify against when the user does not exist.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
