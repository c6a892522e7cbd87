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
  // Nearly every URL has no token in it: skip the regular expression for those.
  return url.includes('token=') ? url.replace(/([?&]token=)[^&]*/g, '$1[REDACTED]') : url
}

export function installRequestLog(app: FastifyInstance): void {
  // A callback hook rather than an async one: it runs on every request, and an
  // async hook costs a promise and a microtask turn each time.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
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
    done()
  })
}
