// HTTP and WebSocket for devices: schema in, service call, status code out.

import type { EventBus } from '../../events/bus.js'
import { principalOf, requireRole } from '../../http/auth-hook.js'
import { listReply, pageOf } from '../../http/list.js'
import { openLiveFeed } from '../../http/live-feed.js'
import { refuseInvalid } from '../../http/problem.js'
import { envelope } from '../../realtime/envelope.js'
import type { AppInstance } from '../area.js'
import { deviceRuleErrors } from './device-input.js'
import {
  CommandBody,
  CommandReply,
  CreateDeviceBody,
  DeleteReply,
  DeviceIdParams,
  DeviceSchema,
  deviceView,
  ListQuery,
  PortsReply,
  sampleView,
  TelemetryQuery,
  TelemetrySampleSchema,
  TelemetrySocketParams,
  UpdateDeviceBody,
} from './schemas.js'
import type { DevicesService } from './service.js'
import type { DeviceStatus } from './types.js'

const tags = ['devices']

export function deviceRoutes(app: AppInstance, service: DevicesService, bus: EventBus): void {
  app.get(
    '/api/myntrix/devices',
    {
      schema: {
        tags,
        summary: 'Configured devices with their current connection status',
        querystring: ListQuery,
        response: { 200: { type: 'array', items: DeviceSchema } },
      },
    },
    async (request, reply) => {
      const { items, total } = await service.list(principalOf(request), pageOf(request.query))
      return listReply(reply, items.map(deviceView), total)
    },
  )

  app.get(
    '/api/myntrix/devices/ports',
    {
      schema: {
        tags,
        summary: 'Serial ports on the host; an empty list with a reason where the host cannot enumerate them',
        response: { 200: PortsReply },
      },
    },
    async () => service.ports(),
  )

  app.post(
    '/api/myntrix/devices',
    {
      preHandler: requireRole('operator'),
      schema: { tags, summary: 'Create a device', body: CreateDeviceBody, response: { 201: DeviceSchema } },
      attachValidation: true,
    },
    async (request, reply) => {
      refuseInvalid(request, deviceRuleErrors)
      const device = await service.create(principalOf(request), request.body)
      return reply.code(201).send(deviceView(device))
    },
  )

  app.get(
    '/api/myntrix/devices/:id',
    { schema: { tags, summary: 'One device', params: DeviceIdParams, response: { 200: DeviceSchema } } },
    async (request) => deviceView(await service.get(principalOf(request), request.params.id)),
  )

  app.put(
    '/api/myntrix/devices/:id',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags,
        summary: 'Change a device; fields not given stay. Changing the link of a connected device is 409',
        params: DeviceIdParams,
        body: UpdateDeviceBody,
        response: { 200: DeviceSchema },
      },
      attachValidation: true,
    },
    async (request) => {
      refuseInvalid(request, deviceRuleErrors)
      return deviceView(await service.update(principalOf(request), request.params.id, request.body))
    },
  )

  app.delete(
    '/api/myntrix/devices/:id',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags,
        summary: 'Disconnect and delete a device',
        params: DeviceIdParams,
        response: { 200: DeleteReply },
      },
    },
    async (request) => {
      await service.delete(principalOf(request), request.params.id)
      return { message: 'device deleted', id: request.params.id }
    },
  )

  // Connect and disconnect: the same route but for the verb, each answering the device after.
  for (const [action, summary] of [
    ['connect', 'Open the port or socket; answers once open and greeted. Failures answer the OS reason'],
    ['disconnect', 'Close the connection'],
  ] as const) {
    app.post(
      `/api/myntrix/devices/:id/${action}`,
      {
        preHandler: requireRole('operator'),
        schema: { tags, summary, params: DeviceIdParams, response: { 200: DeviceSchema } },
      },
      async (request) => deviceView(await service[action](principalOf(request), request.params.id)),
    )
  }

  app.post(
    '/api/myntrix/devices/:id/command',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags,
        summary:
          'Send one command and wait for the firmware to complete it (409 not connected, 504 no answer)',
        params: DeviceIdParams,
        body: CommandBody,
        response: { 200: CommandReply },
      },
    },
    async (request) => {
      const { command, timeoutMs } = request.body
      return service.command(principalOf(request), request.params.id, command, timeoutMs)
    },
  )

  app.get(
    '/api/myntrix/devices/:id/telemetry',
    {
      schema: {
        tags,
        summary: 'Recent telemetry snapshots, oldest first (kept in memory, up to 1000 per device)',
        params: DeviceIdParams,
        querystring: TelemetryQuery,
        response: { 200: { type: 'array', items: TelemetrySampleSchema } },
      },
    },
    async (request) => {
      const samples = await service.telemetry(
        principalOf(request),
        request.params.id,
        request.query.limit ?? 100,
      )
      return samples.map(sampleView)
    },
  )

  // Live feed (docs/DEVICES.md): status and the last snapshot first, then
  // telemetry, log and status messages; a slow client gets telemetry
  // conflated and logs dropped (counted), never slowing the device or others.
  app.get(
    '/ws/myntrix/telemetry/:deviceId',
    { websocket: true, schema: { tags, hide: true, params: TelemetrySocketParams } },
    (socket, request) => {
      const principal = principalOf(request)
      const deviceId = request.params.deviceId
      const subject = { deviceId }
      // An unknown or another owner's device gets the same answer, 4404.
      openLiveFeed(socket, request, {
        noun: 'device',
        load: () => service.get(principal, deviceId),
        start: async (device, { queue, track }) => {
          // In a cluster the device's connection may be on another node: its events come from
          // there (onAnyNode), and the first frames from the snapshot every node can read.
          const first = await service.snapshot(device)
          // What the availability frames repeat; kept from the status frames as they pass.
          let current = { status: first.status, lastSeen: first.lastSeen?.toISOString() ?? null }
          queue.push(envelope('status', { ...current, stale: first.stale }, subject))
          if (first.readings) queue.push(envelope('telemetry', first.readings, subject))
          track(
            bus.onAnyNode('device.status', (e) => {
              if (e.deviceId !== deviceId) return
              current = { status: e.status as DeviceStatus, lastSeen: e.lastSeen }
              queue.push(envelope('status', { ...current, stale: e.stale ?? false }, subject))
            }),
            bus.onAnyNode('device.availability', (e) => {
              if (e.deviceId !== deviceId) return
              queue.push(envelope('status', { ...current, stale: e.stale, staleReason: e.reason }, subject))
            }),
            bus.onAnyNode('device.telemetry', (e) => {
              if (e.deviceId === deviceId)
                queue.push({ type: 'telemetry', deviceId, ts: e.ts, payload: e.readings })
            }),
            bus.onAnyNode('device.log', (e) => {
              if (e.deviceId === deviceId)
                queue.push({ type: 'log', deviceId, ts: e.ts, direction: e.direction, payload: e.line })
            }),
            bus.onAnyNode('job.updated', (e) => {
              if (e.job.details?.deviceId === deviceId) queue.push(envelope('job', e.job, subject))
            }),
            bus.onAnyNode('device.deleted', (e) => {
              if (e.deviceId === deviceId) socket.close(1000, 'device deleted')
            }),
          )
        },
      })
    },
  )
}
