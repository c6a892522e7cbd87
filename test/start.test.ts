// `npm start` as the README runs it (its build step aside, which CI runs before
// the tests): SIGTERM or SIGINT sent to the npm process ends the server
// cleanly. npm passes the signal on to the script's process, so the script
// must exec node rather than leave a shell in between that dies and orphans
// the server (the bug this guards: a SIGTERM to npm left the server listening).

import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { portOpen } from './helpers/ports.js'
import { isAlive, waitFor } from './helpers/processes.js'
import { root, startServer, whyNotBuilt } from './helpers/server.js'

const notBuilt = whyNotBuilt()
if (notBuilt) console.warn(`[myntrix tests] npm start tests skipped: ${notBuilt}`)

async function loginToken(baseUrl: string, password: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  })
  return ((await res.json()) as { access_token: string }).access_token
}

describe.skipIf(notBuilt)('npm start', { timeout: 90_000 }, () => {
  it('runs compiled JavaScript with node, no TypeScript loader', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
    expect(pkg.scripts.start).toBe('exec node dist/main.js')
    expect(pkg.scripts.prestart).toBe('npm run build')
    expect(pkg.dependencies.tsx).toBeUndefined()
  })

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'stops the server, its agents and its database on %s to the npm process',
    async (signal) => {
      const server = await startServer({ command: ['npm', 'start', '--ignore-scripts', '--silent'] })
      try {
        const token = await loginToken(server.baseUrl, server.adminPassword)
        const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
        const created = await fetch(`${server.baseUrl}/api/myntrix/agents`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({
            name: 'long runner',
            configuration: { command: ['node', path.join(root, 'test/fixtures/agents/prints-lines.mjs')] },
          }),
        }).then((r) => r.json() as Promise<{ id: string }>)
        const started = await fetch(`${server.baseUrl}/api/myntrix/agents/${created.id}/start`, {
          method: 'POST',
          headers: { authorization: auth.authorization },
        }).then((r) => r.json() as Promise<{ pid: number }>)
        expect(isAlive(started.pid)).toBe(true)

        server.child.kill(signal)
        expect(await server.exited).toBe(0)
        expect(await portOpen(server.port)).toBe(false)
        await waitFor(() => !isAlive(started.pid), { what: 'the agent process to end' })
        // better-sqlite3 folds the write-ahead log into the database and removes it when the last
        // connection closes: no -wal file left means the database was closed, not abandoned.
        expect(fs.existsSync(path.join(server.dataDir, 'myntrix.db'))).toBe(true)
        expect(fs.existsSync(path.join(server.dataDir, 'myntrix.db-wal'))).toBe(false)
        expect(server.output()).not.toMatch(/error during shutdown|longer than 10 s/)
      } finally {
        await server.stop()
      }
    },
  )
})
