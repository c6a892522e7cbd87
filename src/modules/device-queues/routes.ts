// HTTP for device queues and device groups: schema in, service call, status
// code out. Mutations need an operator (viewers get 403 before the body is read).

import { Type } from '@sinclair/typebox'
import { principalOf, requireRole } from '../../http/auth-hook.js'
import { ListQuery, listReply, pageOf } from '../../http/list.js'
import type { AppInstance } from '../area.js'
import type { DeviceGroupsService } from './groups.js'
import {
  AddBody,
  AddReply,
  ContinueReply,
  DeviceQueueReply,
  GroupBody,
  GroupContinueBody,
  GroupPatchBody,
  GroupQueueReply,
  GroupSchema,
  groupView,
  holdView,
  ItemParams,
  ItemReply,
  itemView,
  QueueParams,
  ReorderBody,
} from './schemas.js'
import type { DeviceQueuesService } from './service.js'
import type { QueueRef } from './tables.js'

const tags = ['device queues']
const operator = requireRole('operator')

export function deviceQueueRoutes(
  app: AppInstance,
  queues: DeviceQueuesService,
  groups: DeviceGroupsService,
): void {
  for (const kind of ['device', 'group'] as const) {
    const base = kind === 'device' ? '/api/myntrix/devices/:id/queue' : '/api/myntrix/device-groups/:id/queue'
    const ref = (id: string): QueueRef => ({ kind, id })
    const whose = kind === 'device' ? "the device's" : "the group's"

    app.post(
      base,
      {
        preHandler: operator,
        schema: {
          tags,
          summary:
            kind === 'device'
              ? 'Queue copies of a stored file for the device (each copy a pending job)'
              : 'Queue copies of a stored file for the group: each goes to the first idle, connected member',
          params: QueueParams,
          body: AddBody,
          response: { 201: AddReply },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request)
        const items =
          kind === 'device'
            ? await queues.addToDevice(principal, request.params.id, request.body)
            : await queues.addToGroup(principal, request.params.id, request.body)
        return reply.code(201).send({ message: `queued ${items.length} item(s)`, items: items.map(itemView) })
      },
    )

    app.get(
      base,
      {
        schema: {
          tags,
          summary: `${whose} queue: the running item, then the waiting ones in order, and what holds it`,
          params: QueueParams,
          response: { 200: kind === 'device' ? DeviceQueueReply : GroupQueueReply },
        },
      },
      async (request) => {
        const principal = principalOf(request)
        const id = request.params.id
        if (kind === 'device') {
          const view = await queues.deviceQueue(principal, id)
          const hold = view.holds[0]
          return { deviceId: id, hold: hold ? holdView(hold) : null, items: view.items.map(itemView) }
        }
        const view = await queues.groupQueue(principal, id)
        return { groupId: id, holds: view.holds.map(holdView), items: view.items.map(itemView) }
      },
    )

    app.patch(
      `${base}/:itemId`,
      {
        preHandler: operator,
        schema: {
          tags,
          summary: 'Move a waiting item to a 1-based position, or give it a new priority',
          params: ItemParams,
          body: ReorderBody,
          response: { 200: ItemReply },
        },
      },
      async (request) => {
        const { id, itemId } = request.params
        const item = await queues.reorder(principalOf(request), ref(id), itemId, request.body)
        return { message: `item ${itemId} is at position ${item.position}`, item: itemView(item) }
      },
    )

    app.delete(
      `${base}/:itemId`,
      {
        preHandler: operator,
        schema: {
          tags,
          summary: "Cancel an item (its job; a running item's transfer stops)",
          params: ItemParams,
          response: { 200: ItemReply },
        },
      },
      async (request) => {
        const { id, itemId } = request.params
        const item = await queues.cancel(principalOf(request), ref(id), itemId)
        return { message: `item ${itemId} is ${item.status}`, item: itemView(item) }
      },
    )
  }

  app.post(
    '/api/myntrix/devices/:id/queue/continue',
    {
      preHandler: operator,
      schema: {
        tags,
        summary:
          "Lift the hold on the device's queue (confirmation given, or an interrupted or failed job dealt with)",
        params: QueueParams,
        response: { 200: ContinueReply },
      },
    },
    async (request) => {
      await queues.continueDevice(principalOf(request), request.params.id)
      return { message: 'the queue continues', deviceId: request.params.id }
    },
  )

  app.post(
    '/api/myntrix/device-groups/:id/queue/continue',
    {
      preHandler: operator,
      schema: {
        tags,
        summary: 'Lift the hold on one member (deviceId) of the group',
        params: QueueParams,
        body: GroupContinueBody,
        response: { 200: ContinueReply },
      },
    },
    async (request) => {
      await queues.continueGroup(principalOf(request), request.params.id, request.body.deviceId)
      return { message: 'the queue continues', deviceId: request.body.deviceId }
    },
  )

  // ---- groups ------------------------------------------------------------------

  app.get(
    '/api/myntrix/device-groups',
    {
      schema: {
        tags,
        summary: 'Device groups, by name',
        querystring: ListQuery,
        response: { 200: Type.Array(GroupSchema) },
      },
    },
    async (request, reply) => {
      const { items, total } = await groups.list(principalOf(request), pageOf(request.query))
      return listReply(reply, items.map(groupView), total)
    },
  )

  app.post(
    '/api/myntrix/device-groups',
    {
      preHandler: operator,
      schema: { tags, summary: 'Create a device group', body: GroupBody, response: { 201: GroupSchema } },
    },
    async (request, reply) =>
      reply.code(201).send(groupView(await groups.create(principalOf(request), request.body))),
  )

  app.get(
    '/api/myntrix/device-groups/:id',
    { schema: { tags, summary: 'One device group', params: QueueParams, response: { 200: GroupSchema } } },
    async (request) => groupView(await groups.get(principalOf(request), request.params.id)),
  )

  app.patch(
    '/api/myntrix/device-groups/:id',
    {
      preHandler: operator,
      schema: {
        tags,
        summary: 'Rename a group or replace its members',
        params: QueueParams,
        body: GroupPatchBody,
        response: { 200: GroupSchema },
      },
    },
    async (request) => groupView(await groups.update(principalOf(request), request.params.id, request.body)),
  )

  app.delete(
    '/api/myntrix/device-groups/:id',
    {
      preHandler: operator,
      schema: {
        tags,
        summary: 'Delete a group; its waiting items are cancelled',
        params: QueueParams,
        response: { 200: Type.Object({ message: Type.String(), id: Type.String() }) },
      },
    },
    async (request) => {
      const group = await groups.delete(principalOf(request), request.params.id)
      return { message: `deleted device group ${group.name}`, id: group.id }
    },
  )
}
