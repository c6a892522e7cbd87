import type { FastifyRequest } from 'fastify'
import { onPrincipalChange, principalOf } from '../../http/auth-hook.js'
import { envelope } from '../../realtime/envelope.js'
import type { AppInstance } from '../area.js'
import { ScenePayloadSchema, StreamQuery } from './schemas.js'
import type { SceneMessage, VisualizationService } from './service.js'

/** A client with more than this buffered is behind: it skips deltas and gets a snapshot later. */
const MAX_BUFFERED_BYTES = 1024 * 1024

/**
 * Subscribes now, and again whenever the auth hook's re-check finds the
 * caller's role changed: the new subscription starts with a snapshot at the
 * new owner scope, replacing what the client held (a demoted admin's scene
 * loses other users' agents and devices at once). Returns the unsubscribe.
 */
function followPrincipal(request: FastifyRequest, subscribe: () => () => void): () => void {
  let unsubscribe = subscribe()
  const offChange = onPrincipalChange(request, () => {
    unsubscribe()
    unsubscribe = subscribe()
  })
  return () => {
    offChange()
    unsubscribe()
  }
}

export function visualizationRoutes(app: AppInstance, service: VisualizationService): void {
  app.get(
    '/api/myntrix/visualization-data',
    {
      schema: {
        tags: ['visualization'],
        summary: "The 3D scene: core, agents, devices, links and counts for the caller's resources",
        response: { 200: ScenePayloadSchema },
      },
    },
    async (request) => service.snapshot(principalOf(request)),
  )

  app.get(
    '/api/myntrix/visualization-stream',
    {
      schema: {
        tags: ['visualization'],
        summary:
          'Server-Sent Events: a `snapshot` event, then `delta` events (token may be passed as ?token=)',
        querystring: StreamQuery,
        produces: ['text/event-stream'],
      },
    },
    async (request, reply) => {
      const principal = principalOf(request)
      reply.hijack()
      const raw = reply.raw
      // Headers the hooks set (CORS for an allowed origin's EventSource with
      // credentials) would be lost with the hijack: carry them over.
      raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      raw.write(': myntrix visualization stream\n\n')
      const sink = {
        send(message: SceneMessage) {
          if (raw.destroyed || raw.writableLength > MAX_BUFFERED_BYTES) return false
          raw.write(
            `event: ${message.type}\ndata: ${JSON.stringify(envelope(message.type, message.payload))}\n\n`,
          )
          return true
        },
      }
      const unsubscribe = followPrincipal(request, () => service.subscribe(principal, sink))
      request.raw.on('close', unsubscribe)
      raw.on('close', unsubscribe)
    },
  )

  app.get('/ws/myntrix/visualization', { websocket: true }, (socket, request) => {
    const principal = principalOf(request)
    const sink = {
      send(message: SceneMessage) {
        if (socket.readyState !== socket.OPEN || socket.bufferedAmount > MAX_BUFFERED_BYTES) return false
        socket.send(JSON.stringify(envelope(message.type, message.payload)))
        return true
      },
    }
    const unsubscribe = followPrincipal(request, () => service.subscribe(principal, sink))
    socket.on('close', unsubscribe)
    socket.on('error', unsubscribe)
  })
}
