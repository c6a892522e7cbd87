import multipart from '@fastify/multipart'
import { Type } from '@sinclair/typebox'
import { ValidationError } from '../errors.js'
import { assertFromOwnOrigin, principalOf, requireRole, SESSION_COOKIE } from '../http/auth-hook.js'
import { ListQuery, listReply, pageOf } from '../http/list.js'
import { ownedDeleteHandler } from '../http/owned-delete.js'
import { ownedListHandler } from '../http/owned-list.js'
import type { AppInstance } from '../modules/area.js'
import { NameString } from '../names.js'
import { parseQueryTime } from '../time.js'
import type { AuditLog } from './audit.js'
import { credentialedOrigins } from './csrf.js'
import { ROLES } from './principal.js'
import type { AuthService } from './service.js'
import { USERNAME_PATTERN } from './users.js'

const Role = Type.Union(
  ROLES.map((r) => Type.Literal(r)),
  { description: 'admin | operator | viewer' },
)

const User = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Role,
  disabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
})

const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'the public start of the key, to recognise it' }),
  userId: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
})

// Only names that can exist: anything else is refused by the schema (400)
// before the login is tried, so no control or bidi text reaches the
// `login.failed` audit row.
const LoginUsername = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: USERNAME_PATTERN,
  description: 'letters, digits and _ . @ - (1-64)',
})

const TokenBody = Type.Object(
  {
    username: LoginUsername,
    password: Type.String({ minLength: 1, maxLength: 1000 }),
    grant_type: Type.Optional(Type.String()),
    scope: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
)

const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'seconds' }),
})

const AuditRow = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  userId: Type.Union([Type.String(), Type.Null()]),
  username: Type.Union([Type.String(), Type.Null()]),
  action: Type.String({ description: '`login`, `login.failed`, or `<METHOD> <route pattern>`' }),
  target: Type.Union([Type.String(), Type.Null()]),
  method: Type.Union([Type.String(), Type.Null()]),
  path: Type.Union([Type.String(), Type.Null()]),
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  details: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
    description: 'a summary row of coalesced repeats has `repeated`, `firstAt` and `lastAt`',
  }),
})

const AuditQuery = Type.Composite([
  ListQuery,
  Type.Object({
    userId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    action: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 300,
        description: 'exact, e.g. `login.failed` or `DELETE /api/myntrix/agents/:id`',
      }),
    ),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'at or after (ISO-8601)' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'before (ISO-8601)' })),
  }),
])

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })
const Deleted = Type.Object({ message: Type.String(), id: Type.String() })

const SessionBody = Type.Object({
  username: LoginUsername,
  password: Type.String({ minLength: 1, maxLength: 1000 }),
})

const SessionResponse = Type.Object({
  id: Type.String({ description: 'the user id' }),
  username: Type.String(),
  role: Role,
  expiresAt: Type.String({ format: 'date-time' }),
})

export interface AuthRoutesDeps {
  auth: AuthService
  audit: AuditLog
  /** MYNTRIX_COOKIE_SECURE: mark the cookie Secure even on a plain-HTTP request (TLS at a proxy). */
  cookieSecure?: boolean
  /** MYNTRIX_CORS_ORIGIN: origins whose pages may log in and use the cookie. */
  corsOrigin?: string | null
}

export async function authRoutes(app: AppInstance, deps: AuthRoutesDeps): Promise<void> {
  const { auth, audit } = deps
  const cookieSecure = deps.cookieSecure ?? false
  const allowedOrigins = credentialedOrigins(deps.corsOrigin ?? null)
  const cookieOptions = (secure: boolean) =>
    ({ httpOnly: true, sameSite: 'strict', path: '/', secure }) as const

  // The token route accepts JSON, the OAuth2 password form and multipart form
  // data (the dashboard's login form posts to /api/token).
  await app.register(async (scope) => {
    await scope.register(multipart, { attachFieldsToBody: 'keyValues', limits: { fileSize: 0, files: 0 } })
    for (const url of ['/api/auth/token', '/api/token']) {
      scope.withTypeProvider<import('@fastify/type-provider-typebox').TypeBoxTypeProvider>().post(
        url,
        {
          schema: {
            tags: ['auth'],
            summary: 'Log in: exchange a username and password for a bearer token',
            consumes: ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'],
            body: TokenBody,
            response: { 200: TokenResponse },
            hide: url === '/api/token',
          },
        },
        async (request) => {
          const { username, password } = request.body
          try {
            const { token, user } = await auth.login(username, password, request.ip)
            void audit.record({
              userId: user.id,
              username: user.username,
              action: 'login',
              target: user.id,
              method: 'POST',
              path: url,
              statusCode: 200,
              ip: request.ip,
            })
            return token
          } catch (err) {
            const status = (err as { status?: number }).status ?? 500
            void audit.record({
              userId: null,
              username,
              action: 'login.failed',
              target: null,
              method: 'POST',
              path: url,
              statusCode: status,
              ip: request.ip,
            })
            throw err
          }
        },
      )
    }
  })

  // Browser login: the credential travels in an HttpOnly cookie no script can
  // read, and is kept server-side so logout (or a password change) ends it.
  app.post(
    '/api/auth/session',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in from a browser: sets the HttpOnly session cookie `myntrix_session`',
        body: SessionBody,
        response: { 200: SessionResponse },
        security: [],
      },
    },
    async (request, reply) => {
      // Login CSRF: another site must not log the browser in as someone else.
      // Clients that send no Origin (scripts, curl) are not browsers on a page.
      if (request.headers.origin !== undefined) assertFromOwnOrigin(request, allowedOrigins, cookieSecure)
      const { username, password } = request.body
      const path = '/api/auth/session'
      try {
        const session = await auth.createSession(username, password, request.ip)
        void audit.record({
          userId: session.user.id,
          username: session.user.username,
          action: 'login',
          target: session.user.id,
          method: 'POST',
          path,
          statusCode: 200,
          ip: request.ip,
          details: { via: 'session' },
        })
        reply.setCookie(SESSION_COOKIE, session.cookieValue, {
          ...cookieOptions(cookieSecure || request.protocol === 'https'),
          maxAge: session.maxAgeSeconds,
        })
        return {
          id: session.user.id,
          username: session.user.username,
          role: session.user.role,
          expiresAt: session.expiresAt.toISOString(),
        }
      } catch (err) {
        void audit.record({
          userId: null,
          username,
          action: 'login.failed',
          target: null,
          method: 'POST',
          path,
          statusCode: (err as { status?: number }).status ?? 500,
          ip: request.ip,
          details: { via: 'session' },
        })
        throw err
      }
    },
  )

  app.post(
    '/api/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary:
          'Log out: revokes the credential this request used (the session cookie, or this bearer token) and clears the cookie',
        response: { 200: Type.Object({ message: Type.String() }) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request)
      await auth.logout(principal)
      if (request.cookies[SESSION_COOKIE] !== undefined)
        reply.clearCookie(SESSION_COOKIE, cookieOptions(cookieSecure || request.protocol === 'https'))
      return {
        message:
          principal.via === 'session'
            ? 'logged out; the session is revoked'
            : 'logged out; the token is revoked',
      }
    },
  )

  app.get(
    '/api/auth/me',
    {
      schema: { tags: ['auth'], summary: 'The caller', security: [{ bearer: [] }], response: { 200: User } },
    },
    async (request) => auth.me(principalOf(request)),
  )

  // ---- users: admin only ----
  const admin = requireRole('admin')

  app.get(
    '/api/auth/users',
    {
      preHandler: admin,
      schema: {
        tags: ['users'],
        summary: 'List users',
        querystring: ListQuery,
        response: { 200: Type.Array(User) },
      },
    },
    ownedListHandler((principal, { limit, offset }) => auth.users.list(principal, limit, offset)),
  )

  app.post(
    '/api/auth/users',
    {
      preHandler: admin,
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        body: Type.Object({
          username: NameString({ maxLength: 64 }),
          password: Type.String({ minLength: 8, maxLength: 1000 }),
          role: Role,
        }),
        response: { 201: User },
      },
    },
    async (request, reply) => {
      const user = await auth.users.create(principalOf(request), request.body)
      return reply.code(201).send(user)
    },
  )

  app.get(
    '/api/auth/users/:id',
    { preHandler: admin, schema: { tags: ['users'], params: IdParams, response: { 200: User } } },
    async (request) => auth.users.get(principalOf(request), request.params.id),
  )

  app.put(
    '/api/auth/users/:id',
    {
      preHandler: admin,
      schema: {
        tags: ['users'],
        summary: 'Change a user: password, role, disabled',
        params: IdParams,
        body: Type.Object({
          password: Type.Optional(Type.String({ minLength: 8, maxLength: 1000 })),
          role: Type.Optional(Role),
          disabled: Type.Optional(Type.Boolean()),
        }),
        response: { 200: User },
      },
    },
    async (request) => auth.users.update(principalOf(request), request.params.id, request.body),
  )

  app.delete(
    '/api/auth/users/:id',
    { preHandler: admin, schema: { tags: ['users'], params: IdParams, response: { 200: Deleted } } },
    ownedDeleteHandler('user', (principal, id) => auth.users.delete(principal, id)),
  )

  // ---- audit log: admin only ----

  app.get(
    '/api/auth/audit',
    {
      preHandler: admin,
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first (admins only)',
        querystring: AuditQuery,
        response: { 200: Type.Array(AuditRow) },
      },
    },
    async (request, reply) => {
      const { userId, username, action, from, to } = request.query
      const fromDate = from === undefined ? undefined : parseQueryTime(from, 'query.from')
      const toDate = to === undefined ? undefined : parseQueryTime(to, 'query.to')
      if (fromDate && toDate && fromDate > toDate) {
        throw new ValidationError('from must not be after to', [
          { path: 'query.from', message: `must not be after to (${to}), got ${from}` },
        ])
      }
      const { items, total } = await audit.list({
        userId,
        username,
        action,
        from: fromDate,
        to: toDate,
        ...pageOf(request.query),
      })
      return listReply(reply, items, total)
    },
  )

  // ---- API keys: each user their own; admins see all ----

  app.get(
    '/api/auth/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'List API keys',
        querystring: ListQuery,
        response: { 200: Type.Array(ApiKey) },
      },
    },
    ownedListHandler((principal, { limit, offset }) => auth.apiKeys.list(principal, limit, offset)),
  )

  app.post(
    '/api/auth/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Create an API key; the key is shown in this answer only',
        body: Type.Object({
          name: NameString({ maxLength: 200 }),
          expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
        }),
        response: { 201: Type.Composite([ApiKey, Type.Object({ key: Type.String() })]) },
      },
    },
    async (request, reply) => {
      const key = await auth.apiKeys.create(principalOf(request), request.body)
      return reply.code(201).send(key)
    },
  )

  app.delete(
    '/api/auth/api-keys/:id',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke an API key',
        params: IdParams,
        response: { 200: Deleted },
      },
    },
    async (request) => {
      await auth.apiKeys.revoke(principalOf(request), request.params.id)
      return { message: 'API key revoked', id: request.params.id }
    },
  )
}
