// Bench subject "bare": a Fastify hello-world answering /healthz as Myntrix
// does (same Fastify, same response schema), no logging, no hooks. The
// ceiling any Fastify route on this machine can reach.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get(
  '/healthz',
  {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: { status: { type: 'string', const: 'ok' } },
          required: ['status'],
        },
      },
    },
  },
  async () => ({ status: 'ok' }),
)
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.stdout.write('listening\n')
process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
