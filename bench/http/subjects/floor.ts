// Bench subject "floor": the least an authenticated `GET /api/myntrix/agents`
// can do, with nothing else. Fastify without logging or hooks beyond one
// onRequest that verifies the bearer JWT exactly as Myntrix does (fast-jwt,
// HS256, issuer myntrix, the same secret) and reads the user with Myntrix's own
// query (user row + revoked-token check); the handler runs Myntrix's own list
// query on the same SQLite file and answers through the same response schema
// and view. What Myntrix does beyond this (request log, metrics, audit, input
// guards, CORS, router size, ...) is what the ratio measures.
// FLOOR_USER_LOOKUP=0 skips the user read (the token's own claims are trusted),
// to show what reading the user on every request costs.
import { createVerifier } from 'fast-jwt'
import Fastify from 'fastify'
import { AuthRepository } from '../../../src/auth/repository.js'
import { openDatabase } from '../../../src/db/index.js'
import { AgentsRepository } from '../../../src/modules/agents/repository.js'
import { AgentListQuery, AgentSchema, agentView } from '../../../src/modules/agents/schemas.js'
import { AJV_OPTIONS } from '../../../src/validation.js'

const lookUpUser = process.env.FLOOR_USER_LOOKUP !== '0'
const database = openDatabase(String(process.env.MYNTRIX_DATABASE_URL))
const users = new AuthRepository(database.db)
const agents = new AgentsRepository(database.db)
const verify = createVerifier({
  key: String(process.env.MYNTRIX_JWT_SECRET),
  algorithms: ['HS256'],
  allowedIss: 'myntrix',
}) as (token: string) => Record<string, unknown>

interface Caller {
  id: string
  role: string
}

const app = Fastify({ logger: false, ajv: { customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } } })
app.addHook('onRequest', async (request, reply) => {
  const token = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]
  if (!token) return reply.code(401).send({ title: 'Unauthorized' })
  let claims: Record<string, unknown>
  try {
    claims = verify(token.trim())
  } catch {
    return reply.code(401).send({ title: 'Unauthorized' })
  }
  if (!lookUpUser) {
    ;(request as { caller?: Caller }).caller = { id: String(claims.sub), role: String(claims.role) }
    return
  }
  const found = await users.findUserForToken(String(claims.sub), String(claims.jti))
  if (!found || found.user.disabled || found.revoked || found.user.tokenVersion !== claims.tv) {
    return reply.code(401).send({ title: 'Unauthorized' })
  }
  ;(request as { caller?: Caller }).caller = { id: found.user.id, role: found.user.role }
})
app.get(
  '/api/myntrix/agents',
  { schema: { querystring: AgentListQuery, response: { 200: { type: 'array', items: AgentSchema } } } },
  async (request, reply) => {
    const q = request.query as { limit?: number; offset?: number; skip?: number }
    const caller = (request as { caller?: Caller }).caller as Caller
    const { items, total } = await agents.list(caller.role === 'admin' ? null : caller.id, {
      limit: q.limit ?? 100,
      offset: q.offset ?? q.skip ?? 0,
    })
    reply.header('X-Total-Count', String(total))
    return items.map((r) => agentView(r, null))
  },
)
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.stdout.write('listening\n')
process.on('SIGTERM', () => {
  app
    .close()
    .then(() => database.close())
    .then(() => process.exit(0))
})
