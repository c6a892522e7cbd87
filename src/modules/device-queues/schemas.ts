// TypeBox schemas of the queue and device-group routes, and the public views.

import { type Static, Type } from '@sinclair/typebox'
import { NameString } from '../../names.js'
import type { DeviceGroup, DeviceHead, QueueEntry } from './tables.js'

/** Copies of one file per request: each copy is one item and one job. */
export const MAX_COPIES = 100
/** Waiting items per queue: a queue is a plan for a shift, not a store. */
export const MAX_WAITING = 1000
export const MAX_MEMBERS = 100

const Id = Type.String({ minLength: 1, maxLength: 100 })

export const QueueParams = Type.Object({ id: Id })
export const ItemParams = Type.Object({ id: Id, itemId: Id })

export const AddBody = Type.Object(
  {
    fileId: Type.String({
      minLength: 1,
      maxLength: 100,
      description: "a file stored for the device (a group's item: for any member)",
    }),
    copies: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_COPIES, default: 1 })),
    priority: Type.Optional(
      Type.Integer({
        minimum: -1000,
        maximum: 1000,
        default: 0,
        description:
          'higher first: a new item goes after every waiting item of the same or a higher priority',
      }),
    ),
    requireConfirm: Type.Optional(
      Type.Boolean({
        default: false,
        description: "after this item, hold the device's queue until POST .../queue/continue (clear the bed)",
      }),
    ),
  },
  { additionalProperties: false },
)
export type AddBody = Static<typeof AddBody>

export const ReorderBody = Type.Object(
  {
    position: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_WAITING,
        description: '1-based place among the waiting items',
      }),
    ),
    priority: Type.Optional(
      Type.Integer({ minimum: -1000, maximum: 1000, description: 'placed again by the new priority' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type ReorderBody = Static<typeof ReorderBody>

export const GroupContinueBody = Type.Object(
  { deviceId: Type.String({ minLength: 1, maxLength: 100, description: 'the held member to continue' }) },
  { additionalProperties: false },
)

export const GroupBody = Type.Object(
  {
    name: NameString({ maxLength: 200 }),
    members: Type.Array(Id, {
      maxItems: MAX_MEMBERS,
      uniqueItems: true,
      description: 'device ids of the group owner, in the order dispatch tries them',
    }),
  },
  { additionalProperties: false },
)
export type GroupBody = Static<typeof GroupBody>

export const GroupPatchBody = Type.Object(
  {
    name: Type.Optional(NameString({ maxLength: 200 })),
    members: Type.Optional(Type.Array(Id, { maxItems: MAX_MEMBERS, uniqueItems: true })),
  },
  { additionalProperties: false },
)
export type GroupPatchBody = Static<typeof GroupPatchBody>

export const QueueItemSchema = Type.Object({
  id: Type.String(),
  jobId: Type.String({ description: 'the job in /api/myntrix/jobs: pending while it waits' }),
  name: Type.String(),
  status: Type.String({ description: "the job's status: pending or running" }),
  progress: Type.Integer(),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  groupId: Type.Union([Type.String(), Type.Null()]),
  assignedDeviceId: Type.Union([Type.String(), Type.Null()], { description: 'where it was dispatched' }),
  fileId: Type.String(),
  position: Type.Union([Type.Integer(), Type.Null()], {
    description: '1-based among waiting items; null once running',
  }),
  priority: Type.Integer(),
  requireConfirm: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
})

export const HoldSchema = Type.Object({
  deviceId: Type.String(),
  reason: Type.Union([Type.Literal('confirm'), Type.Literal('interrupted'), Type.Literal('failed')]),
  jobId: Type.Union([Type.String(), Type.Null()], { description: 'the job whose end held the queue' }),
  since: Type.String({ format: 'date-time' }),
})

export const DeviceQueueReply = Type.Object({
  deviceId: Type.String(),
  hold: Type.Union([HoldSchema, Type.Null()]),
  items: Type.Array(QueueItemSchema),
})

export const GroupQueueReply = Type.Object({
  groupId: Type.String(),
  holds: Type.Array(HoldSchema, { description: 'held members' }),
  items: Type.Array(QueueItemSchema),
})

export const AddReply = Type.Object({ message: Type.String(), items: Type.Array(QueueItemSchema) })
export const ItemReply = Type.Object({ message: Type.String(), item: QueueItemSchema })
export const ContinueReply = Type.Object({ message: Type.String(), deviceId: Type.String() })

export const GroupSchema = Type.Object({
  id: Type.String(),
  ownerId: Type.String(),
  name: Type.String(),
  members: Type.Array(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
})

export function itemView(item: QueueEntry) {
  return {
    id: item.id,
    jobId: item.jobId,
    name: item.name,
    status: item.status,
    progress: item.progress,
    deviceId: item.deviceId,
    groupId: item.groupId,
    assignedDeviceId: item.assignedDeviceId,
    fileId: item.fileId,
    position: item.status === 'pending' ? item.position : null,
    priority: item.priority,
    requireConfirm: item.requireConfirm,
    createdAt: item.createdAt.toISOString(),
  }
}

export function holdView(head: DeviceHead) {
  return {
    deviceId: head.deviceId,
    reason: head.hold!,
    jobId: head.holdJobId,
    since: head.updatedAt.toISOString(),
  }
}

export function groupView(group: DeviceGroup) {
  return { ...group, createdAt: group.createdAt.toISOString(), updatedAt: group.updatedAt.toISOString() }
}
