// Authenticates every /api and /ws request except the public ones, records
// audit rows for state-changing requests, and offers the role guard routes use.

import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import type { AuditLog } from '../auth/audit.js'
import { assertRole, type Principal, type Role } from '../auth/principal.js'
import type { AuthService } from '../auth/service.js'
import { UnauthorizedError } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every authenticated route; absent on public routes. */
    principal?: Principal
  }
}

const PUBLIC_ROUTES = new Set(['/api/auth/token', '/api/token'])

/**
 * Decide on the route the router matched, not on the raw URL: the router
 * decodes percent-escapes (`/%61pi/...` reaches `/api/...`), so a raw-URL test
 * could be walked around. Unmatched requests are decided on the decoded path.
 */
function routePath(request: FastifyRequest): string {
  const matched = request.routeOptions.url
  if (matched) return matched
  const raw = request.url.split('?')[0]
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

function needsAuth(request: FastifyRequest, publicPaths: Set<string>): boolean {
  const path = routePath(request)
  if (PUBLIC_ROUTES.has(path) && request.method === 'POST') return false
  if (publicPaths.has(path)) return false
  return path.startsWith('/api') || path.startsWith('/ws') || path === '/metrics'
}

export function credentialOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header) {
    const match = /^Bearer\s+(.+)$/i.exec(header)
    return match ? match[1].trim() : undefined
  }
  // Browsers cannot set headers on WebSocket or EventSource: they pass ?token=.
  const query = request.query as Record<string, unknown> | undefined
  if (query && typeof query.token === 'string' && query.token) return query.token
  return undefined
}

export interface AuthHookOptions {
  auth: AuthService
  audit: AuditLog
  /** Extra paths that need no credential (e.g. /metrics when MYNTRIX_METRICS_PUBLIC=true). */
  publicPaths?: string[]
  /** How often a live stream re-checks its credential (default 30 s). */
  streamRecheckMs?: number
}

/** WebSockets and Server-Sent Event streams: connections that outlive one request. */
function isLongLived(request: FastifyRequest): boolean {
  return (request as { ws?: boolean }).ws === true || routePath(request).endsWith('-stream')
}

/**
 * A stream authenticated once would otherwise outlive a revoked API key, a
 * disabled user or an expired token: re-check now and then, and end the
 * connection when the credential no longer holds.
 */
function watchCredential(
  request: FastifyRequest,
  auth: AuthService,
  credential: string,
  everyMs: number,
): void {
  const socket = request.raw.socket as typeof request.raw.socket | undefined
  // Injected requests (app.inject, injectWS) have no real socket to end.
  if (typeof socket?.destroy !== 'function' || typeof socket.once !== 'function') return
  const timer = setInterval(() => {
    auth.authenticate(credential).catch(() => {
      clearInterval(timer)
      socket.destroy()
    })
  }, everyMs)
  timer.unref()
  socket.once('close', () => clearInterval(timer))
}

export function installAuthHook(app: FastifyInstance, options: AuthHookOptions): void {
  const publicPaths = new Set(options.publicPaths ?? [])
  app.addHook('onRequest', async (request) => {
    if (!needsAuth(request, publicPaths)) return
    const credential = credentialOf(request)
    if (!credential)
      throw new UnauthorizedError('authentication required: send Authorization: Bearer <token>')
    request.principal = await options.auth.authenticate(credential)
    if (isLongLived(request))
      watchCredential(request, options.auth, credential, options.streamRecheckMs ?? 30_000)
  })

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(request.method)) return
    const route = request.routeOptions.url
    if (!route || PUBLIC_ROUTES.has(route)) return // logins are audited by the token route itself
    if (reply.statusCode === 401 || reply.statusCode === 404) return
    const params = request.params as Record<string, string> | undefined
    void options.audit.record({
      userId: request.principal?.id ?? null,
      username: request.principal?.username ?? null,
      action: `${request.method} ${route}`,
      target: params?.id ?? params?.deviceId ?? null,
      method: request.method,
      path: request.url.split('?')[0],
      statusCode: reply.statusCode,
      ip: request.ip,
    })
  })
}

/** The authenticated caller; routes behind the auth hook always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthorizedError('authentication required')
  return request.principal
}

/** preHandler: 403 unless the caller has at least this role. */
export function requireRole(least: Role): preHandlerHookHandler {
  return async (request) => {
    assertRole(principalOf(request), least, `${request.method} ${request.routeOptions.url}`)
  }
}
