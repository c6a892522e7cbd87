// Managing users (admins only): list, create, change role, password or
// disabled state, delete. The last active admin is kept.

import { newId } from '../db/ids.js'
import { ConflictError, NotFoundError, ValidationError } from '../errors.js'
import { hashPassword } from './passwords.js'
import { assertRole, type Principal, ROLES, type Role } from './principal.js'
import type { AuthRepository, User } from './repository.js'
import { type PublicUser, publicUser } from './views.js'

/** Every username (the login routes refuse others with 400: a name that cannot exist is not a failed login). */
export const USERNAME_PATTERN = '^[A-Za-z0-9_.@-]{1,64}$'
const USERNAME = new RegExp(USERNAME_PATTERN)

export class UserAdmin {
  constructor(
    private readonly repo: AuthRepository,
    private readonly now: () => Date,
  ) {}

  async list(principal: Principal, limit: number, offset: number) {
    assertRole(principal, 'admin', 'manage users')
    const { items, total } = await this.repo.listUsers(limit, offset)
    return { items: items.map(publicUser), total }
  }

  async get(principal: Principal, id: string): Promise<PublicUser> {
    assertRole(principal, 'admin', 'manage users')
    const user = await this.repo.findUserById(id)
    if (!user) throw new NotFoundError('user', id)
    return publicUser(user)
  }

  async create(principal: Principal, input: { username: string; password: string; role: Role }) {
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

  async update(
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

  async delete(principal: Principal, id: string): Promise<void> {
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
}

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
