// Serves the built web console (web/dist) at `/`.
//
// Vite names every file under assets/ after a hash of its content, so those can
// be cached for a year and never revalidated; index.html names the current
// hashes, so it must be revalidated on every load (no-cache) or a browser would
// keep asking for assets of an older build. Any other GET that a browser
// navigates to (Accept: text/html) gets index.html, so a deep link such as
// /agents/<id> or a reload on it lands in the console's own router. The API,
// WebSocket, docs, metrics and probe routes are registered by their own
// modules and match before the fallback; an unknown path under them still goes
// to the app's not-found handler (a 404 problem), never to index.html.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { UnavailableError } from '../errors.js'
import type { AppInstance } from '../modules/area.js'
import { MAX_PARAM_LENGTH, sendUriTooLong } from './problem.js'

/** web/dist beside src/ (tsx) or dist/ (compiled): both are two levels below the repository root. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url))

const IMMUTABLE = 'public, max-age=31536000, immutable'

/** Paths that belong to the server, never to the console's router. */
const SERVER_PREFIXES = ['/api', '/ws', '/docs', '/metrics', '/healthz', '/readyz']

// The console only talks to its own origin; nothing else may run in or frame it.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  // uPlot and the console's own components set style attributes.
  "style-src 'self' 'unsafe-inline'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

function isServerPath(urlPath: string): boolean {
  return SERVER_PREFIXES.some((p) => urlPath === p || urlPath.startsWith(`${p}/`))
}

function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html')
}

export async function consoleRoutes(app: AppInstance, options: { dir?: string } = {}): Promise<void> {
  const dir = path.resolve(options.dir ?? DEFAULT_CONSOLE_DIR)
  const built = fs.existsSync(path.join(dir, 'index.html'))

  if (built) {
    await app.register(fastifyStatic, {
      root: path.join(dir, 'assets'),
      prefix: '/assets/',
      index: false,
      cacheControl: false,
      setHeaders: (res) => res.setHeader('cache-control', IMMUTABLE),
    })
  }

  const sendPage = (reply: FastifyReply, file: string) => {
    reply.header('cache-control', 'no-cache')
    if (file === 'index.html') {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
      reply.header('x-content-type-options', 'nosniff')
    }
    return reply.sendFile(file, dir, { cacheControl: false })
  }

  const notBuilt = () =>
    new UnavailableError(
      `the web console is not built (no ${path.join(dir, 'index.html')}): run \`npm run build\`, then start the server again`,
    )

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    if (!built) throw notBuilt()
    return sendPage(reply, 'index.html')
  })

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const urlPath = request.url.split('?', 1)[0] ?? ''
    if (isServerPath(urlPath)) {
      // An id too long for the router's parameter limit falls through to this catch-all.
      if (urlPath.split('/').some((segment) => segment.length > MAX_PARAM_LENGTH))
        return sendUriTooLong(reply)
      return reply.callNotFound()
    }
    // A file at the top of the build (favicon, index.html itself): not hashed, so revalidated.
    const name = urlPath.slice(1)
    if (
      built &&
      /^[\w-][\w.-]*$/.test(name) &&
      fs.statSync(path.join(dir, name), { throwIfNoEntry: false })?.isFile()
    ) {
      return sendPage(reply, name)
    }
    if (!wantsHtml(request)) return reply.callNotFound()
    if (!built) throw notBuilt()
    return sendPage(reply, 'index.html')
  })
}
