// HTTP for agents: schema in, service call, status code out.

import type { FieldError } from '../../errors.js'
import type { EventBus } from '../../events/bus.js'
import { principalOf, requireRole } from '../../http/auth-hook.js'
import { openLiveFeed } from '../../http/live-feed.js'
import { ownedListHandler } from '../../http/owned-list.js'
import { refuseInvalid } from '../../http/problem.js'
import { envelope } from '../../realtime/envelope.js'
import type { AppInstance } from '../area.js'
import { configurationRuleErrors } from './config.js'
import {
  AgentIdParams,
  AgentListQuery,
  AgentSchema,
  agentView,
  CreateAgentBody,
  DeletedSchema,
  LogEntrySchema,
  LogsQuery,
  UpdateAgentBody,
} from './schemas.js'
import type { AgentDetails, AgentsService } from './service.js'

const tags = ['agents']
const view = (d: AgentDetails) => agentView(d.record, d.facts)
const operator = requireRole('operator')
const ok = { 200: AgentSchema }
/** The configuration rules the schema does not express, run also when the schema fails. */
const configurationRules = (body: Record<string, unknown>, shape: readonly FieldError[]) =>
  typeof body.configuration === 'object' && body.configuration !== null && !Array.isArray(body.configuration)
    ? configurationRuleErrors(body.configuration as Record<string, unknown>, 'configuration', shape)
    : []

export function agentRoutes(app: AppInstance, service: AgentsService, bus: EventBus): void {
  app.get(
    '/api/myntrix/agents',
    {
      schema: {
        tags,
        summary: 'All agents the caller may see, with status, health and live process facts',
        querystring: AgentListQuery,
        response: { 200: { type: 'array', items: AgentSchema } },
      },
    },
    ownedListHandler((principal, page) => service.list(principal, page), view),
  )

  app.post(
    '/api/myntrix/agents',
    {
      schema: {
        tags,
        summary: 'Create an agent (stopped)',
        body: CreateAgentBody,
        response: { 201: AgentSchema },
      },
      attachValidation: true,
      preHandler: operator,
    },
    async (request, reply) => {
      refuseInvalid(request, configurationRules)
      const created = await service.create(principalOf(request), request.body)
      return reply.code(201).send(view(created))
    },
  )

  app.get(
    '/api/myntrix/agents/:id',
    { schema: { tags, summary: 'One agent', params: AgentIdParams, response: ok } },
    async (request) => view(await service.get(principalOf(request), request.params.id)),
  )

  app.put(
    '/api/myntrix/agents/:id',
    {
      schema: {
        tags,
        summary:
          'Change name, type or configuration (a new configuration applies from the next start or restart)',
        params: AgentIdParams,
        body: UpdateAgentBody,
        response: ok,
      },
      attachValidation: true,
      preHandler: operator,
    },
    async (request) => {
      refuseInvalid(request, configurationRules)
      return view(await service.update(principalOf(request), request.params.id, request.body))
    },
  )

  app.delete(
    '/api/myntrix/agents/:id',
    {
      schema: {
        tags,
        summary: 'Stop the agent, then delete it and its logs',
        params: AgentIdParams,
        response: { 200: DeletedSchema },
      },
      preHandler: operator,
    },
    async (request) => {
      await service.remove(principalOf(request), request.params.id)
      return { message: 'agent deleted', id: request.params.id }
    },
  )

  app.post(
    '/api/myntrix/agents/:id/start',
    {
      schema: {
        tags,
        summary: 'Start the agent (idempotent: a running agent keeps its process); 422 without a command',
        params: AgentIdParams,
        response: ok,
      },
      preHandler: operator,
    },
    async (request) => view(await service.start(principalOf(request), request.params.id)),
  )

  app.post(
    '/api/myntrix/agents/:id/stop',
    {
      schema: {
        tags,
        summary: 'Stop the agent: SIGTERM to its process group, SIGKILL after stopTimeoutMs',
        params: AgentIdParams,
        response: ok,
      },
      preHandler: operator,
    },
    async (request) => view(await service.stopAgent(principalOf(request), request.params.id)),
  )

  app.post(
    '/api/myntrix/agents/:id/restart',
    {
      schema: {
        tags,
        summary: 'Stop the agent if it runs, then start a new process',
        params: AgentIdParams,
        response: ok,
      },
      preHandler: operator,
    },
    async (request) => view(await service.restart(principalOf(request), request.params.id)),
  )

  app.get(
    '/api/myntrix/agents/:id/logs',
    {
      schema: {
        tags,
        summary: 'Recent stdout/stderr lines, oldest first',
        params: AgentIdParams,
        querystring: LogsQuery,
        response: { 200: { type: 'array', items: LogEntrySchema } },
      },
    },
    async (request) => service.logs(principalOf(request), request.params.id, request.query.tail ?? 100),
  )

  // Live log feed: a `status` message and the recent lines first, then every new
  // line (`log`, payload the text, `stream` beside it) and each status change.
  // A slow client has lines dropped and counted, never slowing the agent.
  app.get(
    '/ws/myntrix/agents/:id/logs',
    { websocket: true, schema: { tags, hide: true, params: AgentIdParams, querystring: LogsQuery } },
    (socket, request) => {
      const principal = principalOf(request)
      const agentId = request.params.id
      const tail = request.query.tail ?? 100
      const subject = { agentId }
      openLiveFeed(socket, request, {
        noun: 'agent',
        queue: { conflate: (m) => (m.type === 'status' ? 'status' : null) },
        load: () => service.get(principal, agentId),
        start: async (details, { queue, isOpen, track }) => {
          const v = view(details)
          queue.push(envelope('status', { status: v.status, health: v.health, pid: v.pid }, subject))
          // From memory the backlog is read and the subscription made in one tick: no gap, no repeat.
          const backlog = service.bufferedLogs(agentId, tail) ?? (await service.recentLogs(agentId, tail))
          if (!isOpen()) return
          for (const l of backlog)
            queue.push({ type: 'log', agentId, ts: l.ts, stream: l.stream, payload: l.line })
          track(
            bus.onAnyNode('agent.log', (e) => {
              if (e.agentId === agentId)
                queue.push({ type: 'log', agentId, ts: e.ts, stream: e.stream, payload: e.line })
            }),
            bus.onAnyNode('agent.status', (e) => {
              if (e.agentId === agentId) {
                queue.push(envelope('status', { status: e.status, health: e.health, pid: e.pid }, subject))
              }
            }),
            bus.onAnyNode('agent.deleted', (e) => {
              if (e.agentId === agentId) socket.close(1000, 'agent deleted')
            }),
          )
        },
      })
    },
  )
}
