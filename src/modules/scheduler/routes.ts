// HTTP for tasks: schema in, service call, status code out.

import { Type } from '@sinclair/typebox'
import { principalOf } from '../../http/auth-hook.js'
import { bodyCheckedByService } from '../../http/body-checked-by-service.js'
import { ListQuery, listReply, pageOf } from '../../http/list.js'
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
    async (request, reply) => {
      const { items, total } = await service.list(principalOf(request), pageOf(request.query))
      return listReply(reply, items.map(taskView), total)
    },
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
    async (request, reply) => {
      const { items, total } = await service.history(principalOf(request), {
        taskId: request.query.taskId,
        status: request.query.status,
        ...pageOf(request.query),
      })
      return listReply(reply, items.map(historyView), total)
    },
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
    async (request, reply) => {
      const { items, total } = await service.history(principalOf(request), {
        taskId: request.params.id,
        status: request.query.status,
        ...pageOf(request.query),
      })
      return listReply(reply, items.map(historyView), total)
    },
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
