// One log line per request, written when the answer has gone out.
//
// Fastify's own request logging writes two lines per request ("incoming
// request", "request completed"), and the serializer it used here printed
// `"authorization":"[REDACTED]"` on every line, whether or not the header was
// sent. One line carries everything an operator reads a request log for:
// method, the route that matched (ids stay in `url`), status, duration and
// who asked. Query-string credentials are cut from the URL before it is logged.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** `?token=...` must never reach a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&]*/g, '$1[REDACTED]')
}

export function installRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        url: redactUrl(request.url),
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        userId: request.principal?.id ?? null,
        ip: request.ip,
      },
      'request',
    )
  })
}
