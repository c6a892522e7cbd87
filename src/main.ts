// Start-up: config, database + migrations, app, listen, graceful shutdown.

import fs from 'node:fs'
import path from 'node:path'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { openDatabase } from './db/index.js'
import { ConfigError } from './errors.js'

const SHUTDOWN_DEADLINE_MS = 10_000

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`myntrix: invalid configuration: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }

  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  // Children running as another user must not read the database or the JWT secret.
  if (config.childUser) fs.chmodSync(config.dataDir, 0o700)
  const database = openDatabase(config.databaseUrl)
  let app: Awaited<ReturnType<typeof buildApp>>
  try {
    app = await buildApp({ config, database })
  } catch (err) {
    await database.close().catch(() => {})
    // Areas validate their own settings while they are built: same one-line answer.
    if (err instanceof ConfigError) {
      process.stderr.write(`myntrix: invalid configuration: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }

  if (!config.childUser && process.getuid?.() === 0) {
    app.log.warn(
      "agents and script tasks run as root, the server's own user: they can read the server's files and " +
        'start-up environment; set MYNTRIX_CHILD_USER (e.g. nobody) to run them as another user',
    )
  }

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down')
    const deadline = setTimeout(() => {
      app.log.error('shutdown took longer than 10 s; exiting anyway')
      process.exit(1)
    }, SHUTDOWN_DEADLINE_MS)
    deadline.unref()
    try {
      // Stops accepting, closes sockets, stops the areas (onClose), then the database.
      await app.close()
      await database.close()
      clearTimeout(deadline)
      process.exit(0)
    } catch (err) {
      app.log.error({ err }, 'error during shutdown')
      process.exit(1)
    }
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))

  const address = await app.listen({ host: config.host, port: config.port })
  // The one line a person starting the server needs: where to go, where the state lives.
  app.log.info(
    {
      url: address,
      dataDir: path.resolve(config.dataDir),
      database: database.engine,
      docs: `${address}/docs`,
    },
    `Myntrix listening on ${address} (database: ${database.engine}, data directory: ${path.resolve(config.dataDir)}, API docs: ${address}/docs)`,
  )
}

main().catch((err) => {
  process.stderr.write(`myntrix: failed to start: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
