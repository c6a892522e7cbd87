// SQL for device groups and their members; snake_case stays in here.

import type { Selectable } from 'kysely'
import type { Database } from '../../db/types.js'
import { fromDbInt, fromDbTime, toDbTime } from '../../db/values.js'
import type { DeviceGroup, DeviceGroupsTable, QueueDb, QueueTables } from './tables.js'

export class GroupRepository {
  private readonly db: QueueDb

  constructor(db: Database) {
    this.db = db.withTables<QueueTables>()
  }

  async insert(group: DeviceGroup): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('deviceGroups')
        .values({
          id: group.id,
          ownerId: group.ownerId,
          name: group.name,
          createdAt: toDbTime(group.createdAt),
          updatedAt: toDbTime(group.updatedAt),
        })
        .execute()
      await writeMembers(trx, group.id, group.members)
    })
  }

  async update(id: string, change: { name?: string; members?: string[] }, at: Date): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('deviceGroups')
        .set({ updatedAt: toDbTime(at), ...(change.name !== undefined ? { name: change.name } : {}) })
        .where('id', '=', id)
        .execute()
      if (change.members) {
        await trx.deleteFrom('deviceGroupMembers').where('groupId', '=', id).execute()
        await writeMembers(trx, id, change.members)
      }
    })
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('deviceGroups').where('id', '=', id).execute()
  }

  async get(id: string): Promise<DeviceGroup | undefined> {
    const row = await this.db.selectFrom('deviceGroups').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) return undefined
    const members = await this.membersOf([id])
    return toGroup(row, members.get(id) ?? [])
  }

  /** `ownerId` null: every group (admins). */
  async list(
    ownerId: string | null,
    page: { limit: number; offset: number },
  ): Promise<{ items: DeviceGroup[]; total: number }> {
    let query = this.db.selectFrom('deviceGroups')
    if (ownerId !== null) query = query.where('ownerId', '=', ownerId)
    const [rows, count] = await Promise.all([
      query.selectAll().orderBy('name').orderBy('id').limit(page.limit).offset(page.offset).execute(),
      query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ])
    const members = await this.membersOf(rows.map((r) => r.id))
    return { items: rows.map((r) => toGroup(r, members.get(r.id) ?? [])), total: fromDbInt(count.n) }
  }

  /** Each group's members, in dispatch order. */
  async membersOf(groupIds: string[]): Promise<Map<string, string[]>> {
    const result = new Map<string, string[]>()
    if (groupIds.length === 0) return result
    const rows = await this.db
      .selectFrom('deviceGroupMembers')
      .selectAll()
      .where('groupId', 'in', groupIds)
      .orderBy('position')
      .execute()
    for (const row of rows) {
      const list = result.get(row.groupId) ?? []
      list.push(row.deviceId)
      result.set(row.groupId, list)
    }
    return result
  }
}

async function writeMembers(db: QueueDb, groupId: string, members: string[]): Promise<void> {
  if (members.length === 0) return
  await db
    .insertInto('deviceGroupMembers')
    .values(members.map((deviceId, position) => ({ groupId, deviceId, position })))
    .execute()
}

function toGroup(row: Selectable<DeviceGroupsTable>, members: string[]): DeviceGroup {
  return {
    ...row,
    members,
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
  }
}
