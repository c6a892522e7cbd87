import { type Selectable, sql } from 'kysely'
import { countOf } from '../db/page.js'
import type { Database, UsersTable } from '../db/types.js'
import { fromDbBool, fromDbInt, fromDbTime, toDbBool, toDbTime } from '../db/values.js'
import type { Role } from './principal.js'

export interface User {
  id: string
  username: string
  role: Role
  disabled: boolean
  passwordHash: string
  /** Written into every token and session; a credential carrying an older version is refused. */
  tokenVersion: number
  createdAt: Date
  updatedAt: Date
}

export interface Session {
  id: string
  userId: string
  tokenVersion: number
  createdAt: Date
  expiresAt: Date
}

export interface ApiKey {
  id: string
  userId: string
  name: string
  prefix: string
  keyHash: string
  /** The user's token version when the key was made (see migration 0704). */
  tokenVersion: number
  createdAt: Date
  lastUsedAt: Date | null
  expiresAt: Date | null
  revokedAt: Date | null
}

type UserRow = Selectable<UsersTable>

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    role: row.role as Role,
    disabled: fromDbBool(row.disabled),
    passwordHash: row.passwordHash,
    tokenVersion: fromDbInt(row.tokenVersion),
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
  }
}

/** The tables whose rows expire, each with its key. */
const EXPIRING_KEY = { authSessions: 'id', revokedTokens: 'jti' } as const

export class AuthRepository {
  constructor(private readonly db: Database) {}

  async countUsers(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst()
    return Number(row?.n ?? 0)
  }

  async countAdmins(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .where('role', '=', 'admin')
      .where('disabled', '=', toDbBool(false))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst()
    return Number(row?.n ?? 0)
  }

  async findUserById(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toUser(row) : undefined
  }

  async findUserByName(username: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst()
    return row ? toUser(row) : undefined
  }

  async listUsers(limit: number, offset: number): Promise<{ items: User[]; total: number }> {
    const [rows, total] = await Promise.all([
      this.db
        .selectFrom('users')
        .selectAll()
        .orderBy('createdAt')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute(),
      this.countUsers(),
    ])
    return { items: rows.map(toUser), total }
  }

  async insertUser(user: Omit<User, 'tokenVersion'> & { tokenVersion?: number }): Promise<void> {
    await this.db
      .insertInto('users')
      .values({
        id: user.id,
        username: user.username,
        role: user.role,
        disabled: toDbBool(user.disabled),
        passwordHash: user.passwordHash,
        tokenVersion: user.tokenVersion ?? 0,
        createdAt: toDbTime(user.createdAt),
        updatedAt: toDbTime(user.updatedAt),
      })
      .execute()
  }

  /**
   * `revokeCredentials` bumps the token version and deletes the user's
   * sessions in the same transaction, so no token or cookie issued before
   * the change is accepted after it.
   */
  async updateUser(
    id: string,
    patch: { role?: Role; disabled?: boolean; passwordHash?: string },
    at: Date,
    revokeCredentials = false,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('users')
        .set({
          ...(patch.role !== undefined ? { role: patch.role } : {}),
          ...(patch.disabled !== undefined ? { disabled: toDbBool(patch.disabled) } : {}),
          ...(patch.passwordHash !== undefined ? { passwordHash: patch.passwordHash } : {}),
          ...(revokeCredentials ? { tokenVersion: sql<number>`token_version + 1` } : {}),
          updatedAt: toDbTime(at),
        })
        .where('id', '=', id)
        .execute()
      if (revokeCredentials) {
        await trx.deleteFrom('authSessions').where('userId', '=', id).execute()
        // The keys are already dead by their token version; this shows it in the list.
        await trx
          .updateTable('apiKeys')
          .set({ revokedAt: toDbTime(at) })
          .where('userId', '=', id)
          .where('revokedAt', 'is', null)
          .execute()
      }
    })
  }

  /** The user a JWT names, and whether its jti was logged out: one round trip per request. */
  async findUserForToken(userId: string, jti: string): Promise<{ user: User; revoked: boolean } | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll('users')
      .select((eb) =>
        eb.exists(eb.selectFrom('revokedTokens').select('jti').where('jti', '=', jti)).as('revoked'),
      )
      .where('id', '=', userId)
      .executeTakeFirst()
    if (!row) return undefined
    const { revoked, ...user } = row
    return { user: toUser(user), revoked: fromDbBool(revoked) }
  }

  async revokeToken(jti: string, userId: string, expiresAt: Date): Promise<void> {
    await this.db
      .insertInto('revokedTokens')
      .values({ jti, userId, expiresAt: toDbTime(expiresAt) })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute()
  }

  async insertSession(session: Session, tokenHash: string): Promise<void> {
    await this.db
      .insertInto('authSessions')
      .values({
        id: session.id,
        tokenHash,
        userId: session.userId,
        tokenVersion: session.tokenVersion,
        createdAt: toDbTime(session.createdAt),
        expiresAt: toDbTime(session.expiresAt),
      })
      .execute()
  }

  /** A session by the hash of its cookie value, with its user: one round trip per request. */
  async findSession(tokenHash: string): Promise<{ session: Session; user: User } | undefined> {
    const row = await this.db
      .selectFrom('authSessions as s')
      .innerJoin('users as u', 'u.id', 's.userId')
      .select([
        's.id as sessionId',
        's.tokenVersion as sessionTokenVersion',
        's.createdAt as sessionCreatedAt',
        's.expiresAt as sessionExpiresAt',
      ])
      .selectAll('u')
      .where('s.tokenHash', '=', tokenHash)
      .executeTakeFirst()
    if (!row) return undefined
    const { sessionId, sessionTokenVersion, sessionCreatedAt, sessionExpiresAt, ...user } = row
    return {
      session: {
        id: sessionId,
        userId: user.id,
        tokenVersion: fromDbInt(sessionTokenVersion),
        createdAt: fromDbTime(sessionCreatedAt)!,
        expiresAt: fromDbTime(sessionExpiresAt)!,
      },
      user: toUser(user),
    }
  }

  async deleteSession(id: string): Promise<void> {
    await this.db.deleteFrom('authSessions').where('id', '=', id).execute()
  }

  /** Deletes up to `limit` sessions that expired before `before`; returns how many. */
  pruneExpiredSessions(before: Date, limit: number): Promise<number> {
    return this.pruneExpired('authSessions', before, limit)
  }

  /** Deletes up to `limit` logged-out tokens whose own expiry passed (they are refused anyway). */
  pruneRevokedTokens(before: Date, limit: number): Promise<number> {
    return this.pruneExpired('revokedTokens', before, limit)
  }

  /**
   * Deletes up to `limit` rows of `table` whose expires_at is before `before`
   * (a bounded batch, so one pass never holds the table long); returns how many.
   */
  private async pruneExpired(table: keyof typeof EXPIRING_KEY, before: Date, limit: number): Promise<number> {
    const key = EXPIRING_KEY[table]
    const result = await this.db
      .deleteFrom(table)
      .where(
        key,
        'in',
        this.db.selectFrom(table).select(key).where('expiresAt', '<', toDbTime(before)).limit(limit),
      )
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  async deleteUser(id: string): Promise<void> {
    await this.db.deleteFrom('users').where('id', '=', id).execute()
  }

  /** Resources a user owns; a user who owns any cannot be deleted (disable them instead). */
  async countOwned(userId: string): Promise<number> {
    let n = 0
    for (const table of ['agents', 'devices', 'scheduledTasks'] as const) {
      const row = await this.db
        .selectFrom(table)
        .where('ownerId', '=', userId)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirst()
      n += Number(row?.n ?? 0)
    }
    return n
  }

  async insertApiKey(key: ApiKey): Promise<void> {
    await this.db
      .insertInto('apiKeys')
      .values({
        id: key.id,
        userId: key.userId,
        name: key.name,
        prefix: key.prefix,
        keyHash: key.keyHash,
        tokenVersion: key.tokenVersion,
        createdAt: toDbTime(key.createdAt),
        lastUsedAt: toDbTime(key.lastUsedAt),
        expiresAt: toDbTime(key.expiresAt),
        revokedAt: toDbTime(key.revokedAt),
      })
      .execute()
  }

  async findApiKeyByPrefix(prefix: string): Promise<ApiKey | undefined> {
    const row = await this.db
      .selectFrom('apiKeys')
      .selectAll()
      .where('prefix', '=', prefix)
      .executeTakeFirst()
    return row ? toApiKey(row) : undefined
  }

  async findApiKey(id: string): Promise<ApiKey | undefined> {
    const row = await this.db.selectFrom('apiKeys').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toApiKey(row) : undefined
  }

  async listApiKeys(
    userId: string | null,
    limit: number,
    offset: number,
  ): Promise<{ items: ApiKey[]; total: number }> {
    let q = this.db.selectFrom('apiKeys')
    if (userId) q = q.where('userId', '=', userId)
    const [rows, total] = await Promise.all([
      q.selectAll().orderBy('createdAt').orderBy('id').limit(limit).offset(offset).execute(),
      countOf(q),
    ])
    return { items: rows.map(toApiKey), total }
  }

  async touchApiKey(id: string, at: Date): Promise<void> {
    await this.db
      .updateTable('apiKeys')
      .set({ lastUsedAt: toDbTime(at) })
      .where('id', '=', id)
      .execute()
  }

  async revokeApiKey(id: string, at: Date): Promise<void> {
    await this.db
      .updateTable('apiKeys')
      .set({ revokedAt: toDbTime(at) })
      .where('id', '=', id)
      .where('revokedAt', 'is', null)
      .execute()
  }
}

function toApiKey(row: {
  id: string
  userId: string
  name: string
  prefix: string
  keyHash: string
  tokenVersion: number | string
  createdAt: Date | string
  lastUsedAt: Date | string | null
  expiresAt: Date | string | null
  revokedAt: Date | string | null
}): ApiKey {
  return {
    id: row.id,
    userId: row.userId,
    name: row.name,
    prefix: row.prefix,
    keyHash: row.keyHash,
    tokenVersion: fromDbInt(row.tokenVersion),
    createdAt: fromDbTime(row.createdAt)!,
    lastUsedAt: fromDbTime(row.lastUsedAt),
    expiresAt: fromDbTime(row.expiresAt),
    revokedAt: fromDbTime(row.revokedAt),
  }
}
