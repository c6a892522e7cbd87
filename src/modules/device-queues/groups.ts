// Device groups: a name and an ordered list of member devices, owner-scoped
// like devices. Every member belongs to the group's owner (a group never
// reaches another user's device); a device the caller cannot see is refused as
// if it did not exist. Deleting a group cancels its waiting items.

import { assertRole, ownerScope, type Principal, visibleOr404 } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import { type FieldError, NotFoundError, ValidationError } from '../../errors.js'
import type { GroupRepository } from './group-repository.js'
import type { GroupBody, GroupPatchBody } from './schemas.js'
import type { DeviceGroup } from './tables.js'

/** The devices service, as groups need it. */
export interface GroupDevicesPort {
  get(principal: Principal, id: string): Promise<{ id: string; ownerId: string }>
}

export class DeviceGroupsService {
  constructor(
    private readonly repo: GroupRepository,
    private readonly devices: GroupDevicesPort,
    /** Cancels the group's waiting items (before the group goes). */
    private readonly dropQueue: (groupId: string) => Promise<void>,
  ) {}

  async list(principal: Principal, page: { limit: number; offset: number }) {
    return this.repo.list(ownerScope(principal), page)
  }

  async get(principal: Principal, id: string): Promise<DeviceGroup> {
    return visibleOr404(principal, await this.repo.get(id), 'device group', id)
  }

  async create(principal: Principal, body: GroupBody): Promise<DeviceGroup> {
    assertRole(principal, 'operator', 'create device groups')
    await this.checkMembers(principal, principal.id, body.members)
    const at = new Date()
    const group: DeviceGroup = {
      id: newId(),
      ownerId: principal.id,
      name: body.name,
      members: body.members,
      createdAt: at,
      updatedAt: at,
    }
    await this.repo.insert(group)
    return group
  }

  async update(principal: Principal, id: string, body: GroupPatchBody): Promise<DeviceGroup> {
    assertRole(principal, 'operator', 'change device groups')
    const group = await this.get(principal, id)
    if (body.members) await this.checkMembers(principal, group.ownerId, body.members)
    await this.repo.update(id, body, new Date())
    return this.get(principal, id)
  }

  async delete(principal: Principal, id: string): Promise<DeviceGroup> {
    assertRole(principal, 'operator', 'delete device groups')
    const group = await this.get(principal, id)
    await this.dropQueue(id)
    await this.repo.delete(id)
    return group
  }

  /** A group's members, without a caller (the service already checked it may see the group). */
  async membersOf(groupId: string): Promise<string[]> {
    return (await this.repo.membersOf([groupId])).get(groupId) ?? []
  }

  /** Each member must be a device the caller sees, owned by the group's owner. */
  private async checkMembers(principal: Principal, ownerId: string, members: string[]): Promise<void> {
    const errors: FieldError[] = []
    for (const [i, deviceId] of members.entries()) {
      try {
        const device = await this.devices.get(principal, deviceId)
        if (device.ownerId !== ownerId) {
          errors.push({ path: `members.${i}`, message: "belongs to another user than the group's owner" })
        }
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err
        errors.push({ path: `members.${i}`, message: `no device ${deviceId}` })
      }
    }
    if (errors.length > 0) throw new ValidationError(`members: ${errors[0]!.message}`, errors)
  }
}
