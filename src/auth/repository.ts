import type { Database } from '../db/types.js'
import { fromDbBool, fromDbTime, toDbBool, toDbTime } from '../db/values.js'
import type { Role } from './principal.js'

export interface User {
  id: string
  username: string
  role: Role
  disabled: boolean
  passwordHash: string
  createdAt: Date
  updatedAt: Date
}

export interface ApiKey {
  id: string
  userId: string
  name: string
  prefix: string
  keyHash: string
  createdAt: Date
  lastUsedAt: Date | null
  expiresAt: Date | null
  revokedAt: Date | null
}

type UserRow = {
  id: string
  username: string
  role: string
  disabled: boolean | number
  passwordHash: string
  createdAt: Date | string
  updatedAt: Date | string
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    role: row.role as Role,
    disabled: fromDbBool(row.disabled),
    passwordHash: row.passwordHash,
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
  }
}

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

  async insertUser(user: User): Promise<void> {
    await this.db
      .insertInto('users')
      .values({
        id: user.id,
        username: user.username,
        role: user.role,
        disabled: toDbBool(user.disabled),
        passwordHash: user.passwordHash,
        createdAt: toDbTime(user.createdAt),
        updatedAt: toDbTime(user.updatedAt),
      })
      .execute()
  }

  async updateUser(
    id: string,
    patch: { role?: Role; disabled?: boolean; passwordHash?: string },
    at: Date,
  ): Promise<void> {
    await this.db
      .updateTable('users')
      .set({
        ...(patch.role !== undefined ? { role: patch.role } : {}),
        ...(patch.disabled !== undefined ? { disabled: toDbBool(patch.disabled) } : {}),
        ...(patch.passwordHash !== undefined ? { passwordHash: patch.passwordHash } : {}),
        updatedAt: toDbTime(at),
      })
      .where('id', '=', id)
      .execute()
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
    const [rows, count] = await Promise.all([
      q.selectAll().orderBy('createdAt').orderBy('id').limit(limit).offset(offset).execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ])
    return { items: rows.map(toApiKey), total: Number(count?.n ?? 0) }
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
    createdAt: fromDbTime(row.createdAt)!,
    lastUsedAt: fromDbTime(row.lastUsedAt),
    expiresAt: fromDbTime(row.expiresAt),
    revokedAt: fromDbTime(row.revokedAt),
  }
}
