// HTTP for tasks: schema in, service call, status code out.

import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { principalOf } from '../../http/auth-hook.js'
import { bodyCheckedByService } from '../../http/body-checked-by-service.js'
import { ListQuery, listReply, pageOf } from '../../http/list.js'
import { ownedListHandler } from '../../http/owned-list.js'
import type { AppInstance } from '../area.js'
import {
  CreateTaskBody,
  DeletedSchema,
  HistoryQuery,
  historyView,
  IdParams,
  PreviewQuery,
  PreviewSchema,
  RunIdParams,
  RunSchema,
  runView,
  TaskSchema,
  taskView,
  UpdateTaskBody,
} from './schemas.js'
import type { SchedulerService } from './service.js'

const tags = ['tasks']
const BASE = '/api/myntrix/tasks'

/**
 * Both history routes page runs the same way: the all-tasks one may filter by
 * `taskId` in the query, the one-task one takes the task from its path.
 */
function historyHandler(service: SchedulerService, taskFrom: 'query' | 'path') {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    // The route's schema has validated the query as HistoryQuery (and the path as IdParams).
    const query = request.query as HistoryQuery
    const { items, total } = await service.history(principalOf(request), {
      taskId: taskFrom === 'path' ? (request.params as { id: string }).id : query.taskId,
      status: query.status,
      ...pageOf(query),
    })
    return listReply(reply, items.map(historyView), total)
  }
}

export function schedulerRoutes(app: AppInstance, service: SchedulerService): void {
  app.get(
    BASE,
    {
      schema: {
        tags,
        summary: 'All scheduled tasks, with nextRun and lastRun',
        querystring: ListQuery,
        response: { 200: Type.Array(TaskSchema) },
      },
    },
    ownedListHandler((principal, page) => service.list(principal, page), taskView),
  )

  app.get(
    `${BASE}/history`,
    {
      schema: {
        tags,
        summary:
          'Run history of all tasks, newest first (logs cut to their end; full logs at /tasks/runs/{runId})',
        querystring: HistoryQuery,
        response: { 200: Type.Array(RunSchema) },
      },
    },
    historyHandler(service, 'query'),
  )

  app.get(
    `${BASE}/preview`,
    {
      schema: {
        tags,
        summary: 'The next fire times of a cron expression in a time zone',
        querystring: PreviewQuery,
        response: { 200: PreviewSchema },
      },
    },
    async (request) => service.preview(request.query),
  )

  app.post(
    BASE,
    {
      schema: { tags, summary: 'Create a task', body: CreateTaskBody, response: { 201: TaskSchema } },
      validatorCompiler: bodyCheckedByService,
    },
    async (request, reply) => {
      const task = await service.create(principalOf(request), request.body as Record<string, unknown>)
      return reply.code(201).send(taskView(task))
    },
  )

  app.get(
    `${BASE}/:id`,
    { schema: { tags, summary: 'One task', params: IdParams, response: { 200: TaskSchema } } },
    async (request) => taskView(await service.get(principalOf(request), request.params.id)),
  )

  app.put(
    `${BASE}/:id`,
    {
      schema: {
        tags,
        summary: 'Update a task (fields not given keep their value); a schedule change takes effect at once',
        params: IdParams,
        body: UpdateTaskBody,
        response: { 200: TaskSchema },
      },
      validatorCompiler: bodyCheckedByService,
    },
    async (request) =>
      taskView(
        await service.update(
          principalOf(request),
          request.params.id,
          request.body as Record<string, unknown>,
        ),
      ),
  )

  app.delete(
    `${BASE}/:id`,
    {
      schema: {
        tags,
        summary: 'Delete a task and its history',
        params: IdParams,
        response: { 200: DeletedSchema },
      },
    },
    async (request) => service.remove(principalOf(request), request.params.id),
  )

  app.post(
    `${BASE}/:id/run`,
    {
      schema: {
        tags,
        summary: 'Run the task now (also when disabled); answers 202 with the run',
        params: IdParams,
        response: { 202: RunSchema },
      },
    },
    async (request, reply) => {
      const run = await service.runNow(principalOf(request), request.params.id)
      return reply.code(202).send(runView(run))
    },
  )

  app.get(
    `${BASE}/:id/history`,
    {
      schema: {
        tags,
        summary: 'Run history of one task',
        params: IdParams,
        querystring: HistoryQuery,
        response: { 200: Type.Array(RunSchema) },
      },
    },
    historyHandler(service, 'path'),
  )

  app.get(
    `${BASE}/runs/:runId`,
    {
      schema: {
        tags,
        summary: 'One run with its full logs',
        params: RunIdParams,
        response: { 200: RunSchema },
      },
    },
    async (request) => runView(await service.getRun(principalOf(request), request.params.runId)),
  )

  app.post(
    `${BASE}/runs/:runId/cancel`,
    {
      schema: {
        tags,
        summary: 'Cancel a pending or running run; 409 when it has ended',
        params: RunIdParams,
        response: { 200: RunSchema },
      },
    },
    async (request) => runView(await service.cancelRun(principalOf(request), request.params.runId)),
  )
}
