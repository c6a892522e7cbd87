import type { FastifyInstance } from 'fastify'

/**
 * CORS for a dashboard served from another origin (MYNTRIX_CORS_ORIGIN).
 * Off by default: same-origin deployments need nothing.
 */
export function installCors(app: FastifyInstance, origin: string | null): void {
  if (!origin) return
  const allowed = origin.split(',').map((o) => o.trim())
  app.addHook('onRequest', async (request, reply) => {
    const requestOrigin = request.headers.origin
    if (!requestOrigin || !(allowed.includes('*') || allowed.includes(requestOrigin))) return
    reply.header('Access-Control-Allow-Origin', allowed.includes('*') ? '*' : requestOrigin)
    reply.header('Vary', 'Origin')
    reply.header('Access-Control-Expose-Headers', 'X-Total-Count, Retry-After')
    if (request.method === 'OPTIONS') {
      reply.header('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS')
      reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type')
      reply.header('Access-Control-Max-Age', '600')
      return reply.code(204).send()
    }
  })
}
