// The one place that builds error bodies: RFC 9457 problem+json.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type FieldError, MyntrixError, TooManyRequestsError, ValidationError } from '../errors.js'
import { errorsDetail, fieldErrors, refuseErrors, type SchemaError } from '../validation.js'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  errors?: FieldError[]
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type('application/problem+json').send(problem)
}

function typeUri(slug: string): string {
  return `https://myntrix.dev/problems/${slug}`
}

/** Fastify's validation context (`body`, `querystring`, `params`) as the path prefix of field errors. */
function contextPrefix(context?: string): string {
  return context && context !== 'body' ? (context === 'querystring' ? 'query' : context) : ''
}

/**
 * Fastify's `frameworkErrors`: what the router refuses before any route, hook or
 * error handler runs (an invalid percent-escape in the path, a path parameter
 * longer than `maxParamLength`). Without it these are answered as plain JSON.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void sendUriTooLong(reply)
    return
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    void sendProblem(reply, {
      type: typeUri('bad-url'),
      title: 'Bad Request',
      status: 400,
      detail: 'the path has a percent-escape that is not valid UTF-8 (such as %ff); escape the path as UTF-8',
    })
    return
  }
  const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 400
  void sendProblem(reply, {
    type: typeUri(slug(TITLES[status] ?? 'client-error')),
    title: TITLES[status] ?? 'Client Error',
    status,
    detail: error.message,
  })
}

/**
 * 414 for a path segment longer than any id. The router answers it itself when
 * the segment is a route parameter; a catch-all route (the console's) gets the
 * same request instead and calls this.
 */
export function sendUriTooLong(reply: FastifyReply) {
  return sendProblem(reply, {
    type: typeUri('uri-too-long'),
    title: 'URI Too Long',
    status: 414,
    detail: `a path segment is longer than ${MAX_PARAM_LENGTH} characters; no id is that long`,
  })
}

/** The router's limit on one path parameter (Fastify's default; ids are at most 100 characters). */
export const MAX_PARAM_LENGTH = 100

/**
 * For a route whose body is checked partly by its schema and partly by a
 * validator of the area (configuration rules): with `attachValidation: true`
 * the schema's errors wait here, and the area's rules run too (told what the
 * schema refused, so they can leave a bad value to it), so one 400 lists
 * every problem instead of the schema's alone. Call first in the handler.
 */
export function refuseInvalid(
  request: FastifyRequest,
  rules: (body: Record<string, unknown>, schemaErrors: readonly FieldError[]) => FieldError[],
): void {
  const failed = request.validationError as
    | (Error & { validation?: SchemaError[]; validationContext?: string })
    | undefined
  if (!failed) return
  const body = request.body
  // The route validator's ValidationError carries its field errors; another compiler's, Ajv's.
  const schemaErrors =
    failed instanceof ValidationError
      ? (failed.errors ?? [])
      : fieldErrors(failed.validation ?? [], contextPrefix(failed.validationContext))
  const ruleErrors =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? rules(body as Record<string, unknown>, schemaErrors)
      : []
  refuseErrors([...schemaErrors, ...ruleErrors])
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validationContext?: string }, request, reply) => {
    if (error instanceof MyntrixError) {
      if (error instanceof TooManyRequestsError) reply.header('Retry-After', String(error.retryAfterSeconds))
      return sendProblem(reply, {
        type: typeUri(error.type),
        title: error.title,
        status: error.status,
        detail: error.message,
        ...(error.errors ? { errors: error.errors } : {}),
      })
    }
    if (error.validation) {
      const errors = fieldErrors(error.validation as SchemaError[], contextPrefix(error.validationContext))
      return sendProblem(reply, {
        type: typeUri('validation-error'),
        title: 'Validation Error',
        status: 400,
        detail: errorsDetail(errors),
        errors,
      })
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Fastify's own client errors: malformed JSON, bad content type, body too large.
      let detail = error.message
      if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
        detail = `request body is not valid JSON: ${error.message}`
      }
      return sendProblem(reply, {
        type: typeUri(slug(TITLES[status] ?? 'client-error')),
        title: TITLES[status] ?? 'Client Error',
        status,
        detail,
      })
    }
    request.log.error({ err: error }, 'unhandled error')
    return sendProblem(reply, {
      type: typeUri('internal-error'),
      title: 'Internal Server Error',
      status: 500,
      detail: 'an unexpected error occurred; it has been logged',
    })
  })

  app.setNotFoundHandler((request: FastifyRequest, reply) =>
    sendProblem(reply, {
      type: typeUri('not-found'),
      title: 'Not Found',
      status: 404,
      detail: `no route for ${request.method} ${request.url.split('?')[0]}`,
    }),
  )
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-')
}
