// HTTP for alert rules and alerts: schema in, service call, status code out.

import { principalOf, requireRole } from '../../http/auth-hook.js'
import { listReply, pageOf } from '../../http/list.js'
import { RuleIdParams as IdParams, ownedRuleRoutes } from '../../http/owned-rule-routes.js'
import type { AppInstance } from '../area.js'
import {
  AlertListQuery,
  AlertRuleSchema,
  AlertSchema,
  CreateAlertRuleBody,
  UpdateAlertRuleBody,
} from './schemas.js'
import type { AlertsService } from './service.js'

const tags = ['alerts']
const RULES = '/api/myntrix/alert-rules'
const ALERTS = '/api/myntrix/alerts'
const operator = requireRole('operator')

export function alertRoutes(app: AppInstance, service: AlertsService): void {
  ownedRuleRoutes(app, {
    base: RULES,
    tags,
    what: 'alert rule',
    schema: AlertRuleSchema,
    deleteSummary: 'Delete a rule with its alerts',
    deleteGuard: operator,
    service,
  })

  app.post(
    RULES,
    {
      schema: {
        tags,
        summary:
          'Create a rule on a host metric or a device reading: operator, threshold, forSeconds, clear threshold, cooldown',
        body: CreateAlertRuleBody,
        response: { 201: AlertRuleSchema },
      },
      preHandler: operator,
    },
    async (request, reply) => reply.code(201).send(await service.create(principalOf(request), request.body)),
  )

  app.put(
    `${RULES}/:id`,
    {
      schema: {
        tags,
        summary:
          'Change a rule; omitted fields stay. A changed condition closes the alert the rule had open and starts over',
        params: IdParams,
        body: UpdateAlertRuleBody,
        response: { 200: AlertRuleSchema },
      },
      preHandler: operator,
    },
    async (request) => service.update(principalOf(request), request.params.id, request.body),
  )

  app.get(
    ALERTS,
    {
      schema: {
        tags,
        summary:
          'Alerts, newest first: ?state=active for pending and firing ones, each with its changes of state',
        querystring: AlertListQuery,
        response: { 200: { type: 'array', items: AlertSchema } },
      },
    },
    async (request, reply) => {
      const { items, total } = await service.alerts(
        principalOf(request),
        request.query,
        pageOf(request.query),
      )
      return listReply(reply, items, total)
    },
  )

  app.get(
    `${ALERTS}/:id`,
    { schema: { tags, summary: 'One alert', params: IdParams, response: { 200: AlertSchema } } },
    async (request) => service.alert(principalOf(request), request.params.id),
  )

  app.post(
    `${ALERTS}/:id/acknowledge`,
    {
      schema: {
        tags,
        summary: 'Acknowledge a firing alert (409 for one that is not firing); again answers the first',
        params: IdParams,
        response: { 200: AlertSchema },
      },
      preHandler: operator,
    },
    async (request) => service.acknowledge(principalOf(request), request.params.id),
  )
}
