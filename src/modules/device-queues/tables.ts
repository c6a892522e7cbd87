// The queue area's table types, declared here so the shared DB type need not
// change (migration 0980), and the shapes its repositories answer.

import type { Kysely } from 'kysely'
import type { DB, DbTime } from '../../db/types.js'

export interface DeviceGroupsTable {
  id: string
  ownerId: string
  name: string
  createdAt: DbTime
  updatedAt: DbTime
}

export interface DeviceGroupMembersTable {
  groupId: string
  deviceId: string
  /** Members are tried in this order when an item is dispatched. */
  position: number
}

export interface DeviceQueueItemsTable {
  id: string
  ownerId: string
  /** The device whose queue holds it, or null for a group's item. */
  deviceId: string | null
  groupId: string | null
  /** The file row (device, id) the item sends; a group's item may run on another member. */
  fileDeviceId: string
  fileId: string
  jobId: string
  position: number
  priority: number
  /** 1: hold the device's queue after this item until an operator continues. */
  requireConfirm: number
  /** The device it was dispatched to. */
  assignedDeviceId: string | null
  createdAt: DbTime
}

export interface DeviceQueueHeadsTable {
  deviceId: string
  /** The queue item running on the device: the dispatcher's claim. */
  itemId: string | null
  jobId: string | null
  /** Why the device's queue waits (`QueueHold`); null when it runs. */
  hold: string | null
  holdJobId: string | null
  updatedAt: DbTime
}

export type QueueTables = {
  deviceGroups: DeviceGroupsTable
  deviceGroupMembers: DeviceGroupMembersTable
  deviceQueueItems: DeviceQueueItemsTable
  deviceQueueHeads: DeviceQueueHeadsTable
}

export type QueueDb = Kysely<DB & QueueTables>

/** Why a device's queue waits for an operator's `continue`. */
export type QueueHold = 'confirm' | 'interrupted' | 'failed'

/** A device's queue, or a group's. */
export type QueueRef = { kind: 'device'; id: string } | { kind: 'group'; id: string }

export interface DeviceGroup extends Omit<DeviceGroupsTable, 'createdAt' | 'updatedAt'> {
  /** Device ids, in the order dispatch tries them. */
  members: string[]
  createdAt: Date
  updatedAt: Date
}

export interface QueueItem extends Omit<DeviceQueueItemsTable, 'requireConfirm' | 'createdAt'> {
  requireConfirm: boolean
  createdAt: Date
}

/** An item with its job's state, as a queue lists it. */
export interface QueueEntry extends QueueItem {
  name: string
  status: string
  progress: number
  error: string | null
}

export interface DeviceHead extends Omit<DeviceQueueHeadsTable, 'hold' | 'updatedAt'> {
  hold: QueueHold | null
  updatedAt: Date
}
