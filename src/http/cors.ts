import type { FastifyInstance } from 'fastify'
import { credentialedOrigins, normalizeOrigin } from '../auth/csrf.js'

/**
 * CORS for a dashboard served from another origin (MYNTRIX_CORS_ORIGIN, a
 * comma-separated list of origins, or `*`). Off by default: same-origin
 * deployments need nothing.
 *
 * A named origin gets `Access-Control-Allow-Credentials: true`, so a page there
 * may call the API with `fetch(url, { credentials: 'include' })` and its
 * session cookie. `*` answers any origin without credentials: browsers refuse
 * credentials with a wildcard, and sending cookies for every origin would undo
 * the cross-site request check.
 */
export function installCors(app: FastifyInstance, origin: string | null): void {
  if (!origin) return
  const wildcard = origin.split(',').some((o) => o.trim() === '*')
  const named = credentialedOrigins(origin)
  app.addHook('onRequest', async (request, reply) => {
    // The answer depends on Origin whether or not this one is allowed: caches must key on it.
    reply.header('Vary', 'Origin')
    const requestOrigin = request.headers.origin
    if (!requestOrigin) return
    const isNamed = named.has(normalizeOrigin(requestOrigin))
    if (!isNamed && !wildcard) return
    reply.header('Access-Control-Allow-Origin', isNamed ? requestOrigin : '*')
    if (isNamed) reply.header('Access-Control-Allow-Credentials', 'true')
    reply.header('Access-Control-Expose-Headers', 'X-Total-Count, Retry-After')
    if (request.method === 'OPTIONS') {
      reply.header('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS')
      reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type')
      reply.header('Access-Control-Max-Age', '600')
      return reply.code(204).send()
    }
  })
}
