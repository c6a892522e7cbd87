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

/**
 * Health probes that pass. A load balancer or an orchestrator asks every few
 * seconds; at `info` their lines would bury the requests people made and cost
 * most of the probe's own time. A passing probe is logged at `debug`; a
 * failing one (503 while the database is away or the server is closing) at
 * `info` like every other request.
 */
const PROBES = new Set(['/healthz', '/readyz'])

export function installRequestLog(app: FastifyInstance): void {
  // A callback hook rather than an async one: it runs on every request, and an
  // async hook costs a promise and a microtask turn each time.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url
    const quiet = reply.statusCode < 400 && route !== undefined && PROBES.has(route)
    // Pino can say whether a level is on without building the line; a logger
    // given to the app that cannot (a test's or a benchmark's) just gets the call.
    const log = request.log as typeof request.log & { isLevelEnabled?(level: string): boolean }
    if (quiet && log.isLevelEnabled?.('debug') === false) {
      done()
      return
    }
    log[quiet ? 'debug' : 'info'](
      {
        method: request.method,
        route: route ?? null,
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
