// Authenticates every /api and /ws request except the public ones, records
// audit rows for state-changing requests, and offers the role guard routes use.

import type {} from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import { assertSameOrAllowedOrigin, credentialedOrigins, normalizeOrigin } from '../auth/csrf.js'
import { assertRole, type Principal, type Role } from '../auth/principal.js'
import { UnauthorizedError } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every authenticated route; absent on public routes. */
    principal?: Principal
  }
}

/** The browser session cookie (see POST /api/auth/session). */
export const SESSION_COOKIE = 'myntrix_session'

const PUBLIC_ROUTES = new Set(['/api/auth/token', '/api/token', '/api/auth/session'])
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * Decide on the route the router matched, not on the raw URL: the router
 * decodes percent-escapes (`/%61pi/...` reaches `/api/...`), so a raw-URL test
 * could be walked around. Unmatched requests are decided on the decoded path.
 */
function routePath(request: FastifyRequest): string {
  const matched = request.routeOptions.url
  if (matched) return matched
  const raw = urlPath(request.url)
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** The path of a request URL, without its query string. */
function urlPath(url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

function needsAuth(request: FastifyRequest, publicPaths: Set<string>): boolean {
  const path = routePath(request)
  if (PUBLIC_ROUTES.has(path) && request.method === 'POST') return false
  if (publicPaths.has(path)) return false
  return path.startsWith('/api') || path.startsWith('/ws') || path === '/metrics'
}

/**
 * WebSockets and Server-Sent Event streams: connections that outlive one
 * request, and the only routes a browser cannot send an Authorization header to.
 */
function isStreamRoute(request: FastifyRequest): boolean {
  const path = routePath(request)
  return (request as { ws?: boolean }).ws === true || path.startsWith('/ws/') || path.endsWith('-stream')
}

export type Credential = { kind: 'bearer'; value: string } | { kind: 'session'; value: string }

/**
 * The credential a request carries, in order: the Authorization header, then
 * `?token=` (stream routes only), then the session cookie.
 */
export function credentialOf(request: FastifyRequest): Credential | undefined {
  const header = request.headers.authorization
  if (header) {
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]
    if (!token) throw new UnauthorizedError('the Authorization header must be "Bearer <token>"')
    return { kind: 'bearer', value: token.trim() }
  }
  const query = request.query as Record<string, unknown> | undefined
  if (query && typeof query.token === 'string' && query.token) {
    // Browsers cannot set headers on WebSocket or EventSource, so those take
    // ?token=. Anywhere else a token in the URL only ends up in proxy and
    // access logs and browser history: refuse it rather than let it work.
    if (!isStreamRoute(request)) {
      throw new UnauthorizedError(
        '?token= is accepted only on WebSocket and event-stream routes; send the token in the Authorization header (Authorization: Bearer <token>)',
      )
    }
    return { kind: 'bearer', value: query.token }
  }
  const cookie = request.cookies?.[SESSION_COOKIE]
  if (cookie) return { kind: 'session', value: cookie }
  return undefined
}

/**
 * What the hook needs of the auth service: a credential in, its caller out
 * (or an UnauthorizedError). The hook depends on this, not on the service, so
 * that the auth area (whose routes use this hook) and the HTTP layer do not
 * import each other.
 */
export interface Authenticator {
  /** A bearer credential: a JWT or a myx_ API key. */
  authenticate(credential: string): Promise<Principal>
  /** The value of the session cookie. */
  authenticateSession(cookieValue: string): Promise<Principal>
}

/** One state-changing request, as the audit log records it. */
export interface AuditedRequest {
  userId: string | null
  username: string | null
  action: string
  target: string | null
  method: string
  path: string
  statusCode: number
  ip: string
}

/** Where the hook records state-changing requests (the audit log). */
export interface AuditSink {
  record(entry: AuditedRequest): Promise<void>
}

export interface AuthHookOptions {
  auth: Authenticator
  audit: AuditSink
  /** Extra paths that need no credential (e.g. /metrics when MYNTRIX_METRICS_PUBLIC=true). */
  publicPaths?: string[]
  /** How often a live stream re-checks its credential (default 30 s). */
  streamRecheckMs?: number
  /** MYNTRIX_CORS_ORIGIN: its origins may send cookie-authenticated state-changing requests. */
  corsOrigin?: string | null
  /** MYNTRIX_COOKIE_SECURE: the server sits behind TLS, so https://<Host> is its own origin too. */
  cookieSecure?: boolean
}

/** WebSockets and Server-Sent Event streams: connections that outlive one request. */
function isLongLived(request: FastifyRequest): boolean {
  return (request as { ws?: boolean }).ws === true || routePath(request).endsWith('-stream')
}

const principalListeners = new WeakMap<FastifyRequest, Set<() => void>>()

/**
 * Calls `listener` when the re-check of a stream finds its caller changed
 * (role or name) while the credential still holds. `principalOf(request)`
 * already answers the current role by then: a stream that filters per event
 * needs nothing more; one that checked access once at open (a single agent's
 * logs, a device's telemetry) checks again here. Returns the unsubscribe.
 */
export function onPrincipalChange(request: FastifyRequest, listener: () => void): () => void {
  let set = principalListeners.get(request)
  if (!set) {
    set = new Set()
    principalListeners.set(request, set)
  }
  set.add(listener)
  return () => set.delete(listener)
}

/**
 * A stream authenticated once would otherwise outlive a revoked API key, a
 * logged-out session, a changed password, a disabled user or an expired token,
 * and keep the role its user had when it opened: re-check now and then, end
 * the connection when the credential no longer holds, and otherwise bring the
 * request's principal up to date in place (the stream's filters read it).
 */
function watchCredential(
  request: FastifyRequest,
  authenticate: () => Promise<Principal>,
  everyMs: number,
): void {
  const socket = request.raw.socket as typeof request.raw.socket | undefined
  // Injected requests (app.inject, injectWS) have no real socket to end.
  if (typeof socket?.destroy !== 'function' || typeof socket.once !== 'function') return
  let checking = false
  const timer = setInterval(() => {
    if (checking) return
    checking = true
    authenticate()
      .then(
        (fresh) => {
          const current = request.principal
          if (!current || (current.role === fresh.role && current.username === fresh.username)) return
          current.role = fresh.role
          current.username = fresh.username
          for (const listener of principalListeners.get(request) ?? []) listener()
        },
        () => {
          clearInterval(timer)
          socket.destroy()
        },
      )
      .finally(() => {
        checking = false
      })
  }, everyMs)
  timer.unref()
  socket.once('close', () => {
    clearInterval(timer)
    principalListeners.delete(request)
  })
}

export function installAuthHook(app: FastifyInstance, options: AuthHookOptions): void {
  const publicPaths = new Set(options.publicPaths ?? [])
  const allowedOrigins = credentialedOrigins(options.corsOrigin ?? null)
  const authenticateRequest = async (request: FastifyRequest): Promise<void> => {
    const credential = credentialOf(request)
    if (!credential)
      throw new UnauthorizedError(
        'authentication required: send Authorization: Bearer <token>, or log in with POST /api/auth/session',
      )
    const isUpgrade = (request as { ws?: boolean }).ws === true
    if (credential.kind === 'session' && (STATE_CHANGING.has(request.method) || isUpgrade)) {
      assertFromOwnOrigin(request, allowedOrigins, options.cookieSecure ?? false, isUpgrade)
    }
    const authenticate =
      credential.kind === 'session'
        ? () => options.auth.authenticateSession(credential.value)
        : () => options.auth.authenticate(credential.value)
    request.principal = await authenticate()
    if (isLongLived(request)) watchCredential(request, authenticate, options.streamRecheckMs ?? 30_000)
  }
  // A callback hook, so that public routes (probes, the console) pass without a promise.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!needsAuth(request, publicPaths)) return done()
    authenticateRequest(request).then(() => done(), done)
  })

  // A callback hook: it runs on every request, and an async one would cost a
  // promise and a microtask turn each time for the reads that record nothing.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    recordAudit(options.audit, request, reply)
    done()
  })
}

function recordAudit(audit: AuditSink, request: FastifyRequest, reply: FastifyReply): void {
  if (!STATE_CHANGING.has(request.method)) return
  const route = request.routeOptions.url
  if (!route || PUBLIC_ROUTES.has(route)) return // logins are audited by the token route itself
  if (reply.statusCode === 401) return
  // A 404 from a logged-in caller is audited: owner isolation answers 404 for
  // another user's resources, so this is what probing them looks like
  // (repeats are coalesced). Without a principal there is no one to record.
  if (reply.statusCode === 404 && !request.principal) return
  const params = request.params as Record<string, string> | undefined
  void audit.record({
    userId: request.principal?.id ?? null,
    username: request.principal?.username ?? null,
    action: `${request.method} ${route}`,
    target: params?.id ?? params?.deviceId ?? null,
    method: request.method,
    path: urlPath(request.url),
    statusCode: reply.statusCode,
    ip: request.ip,
  })
}

/** This server's origin as the request reached it (scheme + Host). */
export function serverOriginsOf(request: FastifyRequest, cookieSecure: boolean): [string, ...string[]] {
  const own = `${request.protocol}://${request.host}`
  // Behind a TLS-terminating proxy the request arrives as http: with
  // MYNTRIX_COOKIE_SECURE the public https origin is this server's own too.
  return cookieSecure && request.protocol !== 'https' ? [own, `https://${request.host}`] : [own]
}

/** 403 (type csrf) unless a cookie-authenticated request comes from this origin or an allowed one. */
export function assertFromOwnOrigin(
  request: FastifyRequest,
  allowed: Set<string>,
  cookieSecure: boolean,
  isUpgrade = false,
): void {
  const [serverOrigin, ...alsoOwn] = serverOriginsOf(request, cookieSecure)
  const origin = request.headers.origin
  const secFetchSite = request.headers['sec-fetch-site']
  assertSameOrAllowedOrigin(
    { origin, secFetchSite: typeof secFetchSite === 'string' ? secFetchSite : undefined, serverOrigin },
    new Set([...allowed, ...alsoOwn.map(normalizeOrigin)]),
    isUpgrade ? `WebSocket upgrade ${urlPath(request.url)}` : `${request.method} ${urlPath(request.url)}`,
  )
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
