// SQL for the devices table; snake_case stays in here (CamelCasePlugin maps it).

import type { Expression, SqlBool } from 'kysely'
import { oldestFirstPage } from '../../db/page.js'
import type { Database } from '../../db/types.js'
import { fromDbBool, fromDbJson, fromDbTime, toDbBool, toDbJson, toDbTime } from '../../db/values.js'
import type { Device, DeviceStatus } from './types.js'

type DeviceRow = {
  id: string
  name: string
  type: string
  connectionString: string
  status: string
  lastSeen: unknown
  firmwareVersion: string | null
  configuration: unknown
  ownerId: string
  lastError: string | null
  desiredConnected: unknown
  nodeAffinity: string | null
  createdAt: unknown
  updatedAt: unknown
}

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    connectionString: row.connectionString,
    status: row.status as DeviceStatus,
    lastSeen: fromDbTime(row.lastSeen),
    firmwareVersion: row.firmwareVersion,
    configuration: fromDbJson(row.configuration) ?? {},
    ownerId: row.ownerId,
    lastError: row.lastError,
    desiredConnected: fromDbBool(row.desiredConnected),
    nodeAffinity: row.nodeAffinity ?? null,
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
  }
}

export type DevicePatch = Partial<
  Pick<
    Device,
    | 'name'
    | 'type'
    | 'connectionString'
    | 'configuration'
    | 'status'
    | 'lastError'
    | 'lastSeen'
    | 'firmwareVersion'
    | 'desiredConnected'
    | 'nodeAffinity'
  >
>

export class DevicesRepository {
  constructor(private readonly db: Database) {}

  async insert(device: Device): Promise<void> {
    await this.db
      .insertInto('devices')
      .values({
        id: device.id,
        name: device.name,
        type: device.type,
        connectionString: device.connectionString,
        status: device.status,
        lastSeen: toDbTime(device.lastSeen),
        firmwareVersion: device.firmwareVersion,
        configuration: toDbJson(device.configuration),
        ownerId: device.ownerId,
        lastError: device.lastError,
        desiredConnected: toDbBool(device.desiredConnected),
        nodeAffinity: device.nodeAffinity,
        createdAt: toDbTime(device.createdAt),
        updatedAt: toDbTime(device.updatedAt),
      })
      .execute()
  }

  async get(id: string): Promise<Device | null> {
    const row = await this.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toDevice(row as DeviceRow) : null
  }

  /** `ownerId` null lists every device (admins). */
  async list(
    ownerId: string | null,
    page: { limit: number; offset: number },
  ): Promise<{ items: Device[]; total: number }> {
    let query = this.db.selectFrom('devices')
    if (ownerId !== null) query = query.where('ownerId', '=', ownerId)
    const { rows, total } = await oldestFirstPage(query, page)
    return { items: rows.map((r) => toDevice(r as DeviceRow)), total }
  }

  async listDesiredConnected(): Promise<Device[]> {
    const rows = await this.db
      .selectFrom('devices')
      .selectAll()
      .where('desiredConnected', '=', toDbBool(true))
      .execute()
    return rows.map((r) => toDevice(r as DeviceRow))
  }

  /** Statuses written by a previous process mean nothing now. */
  async resetStatuses(): Promise<void> {
    await this.db
      .updateTable('devices')
      .set({ status: 'disconnected' })
      .where('status', '!=', 'disconnected')
      .where('desiredConnected', '=', toDbBool(false))
      .execute()
  }

  /**
   * False when nothing was written: the device is gone, or `guard` (a lease's fence, a
   * "not meant to be connected" condition) did not hold.
   */
  async update(id: string, patch: DevicePatch, touch = true, guard?: Expression<SqlBool>): Promise<boolean> {
    const values: Record<string, unknown> = {}
    if (patch.name !== undefined) values.name = patch.name
    if (patch.type !== undefined) values.type = patch.type
    if (patch.connectionString !== undefined) values.connectionString = patch.connectionString
    if (patch.configuration !== undefined) values.configuration = toDbJson(patch.configuration)
    if (patch.status !== undefined) values.status = patch.status
    if (patch.lastError !== undefined) values.lastError = patch.lastError
    if (patch.lastSeen !== undefined) values.lastSeen = toDbTime(patch.lastSeen)
    if (patch.firmwareVersion !== undefined) values.firmwareVersion = patch.firmwareVersion
    if (patch.desiredConnected !== undefined) values.desiredConnected = toDbBool(patch.desiredConnected)
    if (patch.nodeAffinity !== undefined) values.nodeAffinity = patch.nodeAffinity
    if (touch) values.updatedAt = toDbTime(new Date())
    if (Object.keys(values).length === 0) return true
    let query = this.db.updateTable('devices').set(values).where('id', '=', id)
    if (guard) query = query.where(guard)
    const result = await query.executeTakeFirst()
    return Number(result.numUpdatedRows) > 0
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('devices').where('id', '=', id).execute()
  }
}
