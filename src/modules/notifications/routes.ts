// HTTP for notification rules: schema in, service call, status code out.

import { principalOf, requireRole } from '../../http/auth-hook.js'
import { listReply, pageOf } from '../../http/list.js'
import { ownedRuleRoutes, RuleIdParams, RuleListQuery } from '../../http/owned-rule-routes.js'
import type { AppInstance } from '../area.js'
import {
  CreateRuleBody,
  DeliverySchema,
  RuleSchema,
  RuleWithSecretSchema,
  UpdateRuleBody,
} from './schemas.js'
import type { NotificationsService, RuleAnswer } from './service.js'

const tags = ['notifications']
const BASE = '/api/myntrix/notification-rules'
const operator = requireRole('operator')
const answer = (a: RuleAnswer) => (a.secret ? { ...a.rule, secret: a.secret } : a.rule)

export function notificationRoutes(app: AppInstance, service: NotificationsService): void {
  ownedRuleRoutes(app, {
    base: BASE,
    tags,
    what: 'notification rule',
    schema: RuleSchema,
    deleteSummary: 'Delete a rule with its deliveries (pending ones are not sent)',
    deleteGuard: operator,
    service,
  })

  app.post(
    BASE,
    {
      schema: {
        tags,
        summary:
          'Create a rule: events (kinds, optionally agents, devices, tasks) to a webhook or MQTT sink; a webhook answers its signing secret once',
        body: CreateRuleBody,
        response: { 201: RuleWithSecretSchema },
      },
      preHandler: operator,
    },
    async (request, reply) =>
      reply.code(201).send(answer(await service.create(principalOf(request), request.body))),
  )

  app.put(
    `${BASE}/:id`,
    {
      schema: {
        tags,
        summary:
          'Change a rule; omitted fields stay (an MQTT password too); rotateSecret makes a new webhook secret',
        params: RuleIdParams,
        body: UpdateRuleBody,
        response: { 200: RuleWithSecretSchema },
      },
      preHandler: operator,
    },
    async (request) => answer(await service.update(principalOf(request), request.params.id, request.body)),
  )

  app.get(
    `${BASE}/:id/deliveries`,
    {
      schema: {
        tags,
        summary:
          "The rule's notifications, newest first, each with every attempt (status code, duration, error)",
        params: RuleIdParams,
        querystring: RuleListQuery,
        response: { 200: { type: 'array', items: DeliverySchema } },
      },
    },
    async (request, reply) => {
      const { items, total } = await service.deliveries(
        principalOf(request),
        request.params.id,
        pageOf(request.query),
      )
      return listReply(reply, items, total)
    },
  )

  app.post(
    `${BASE}/:id/test`,
    {
      schema: {
        tags,
        summary: 'Send a test notification through the rule now (one attempt) and answer the delivery',
        params: RuleIdParams,
        response: { 200: DeliverySchema },
      },
      preHandler: operator,
    },
    async (request) => service.test(principalOf(request), request.params.id),
  )
}
