// Start-up: config, database + migrations, app, listen, graceful shutdown.

import path from 'node:path'
import { buildApp } from './app.js'
import { loadConfig } from './config/index.js'
import { openDatabase } from './db/index.js'
import { ConfigError } from './errors.js'
import { ambientCapabilities, secureDataDir } from './process/child-user.js'

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

  // Children must not read the database or the JWT secret: 0700, the server's own.
  const dataDirWarning = secureDataDir(config.dataDir)
  const database = openDatabase(config.databaseUrl)
  let app: Awaited<ReturnType<typeof buildApp>>
  try {
    app = await buildApp({ config, database })
  } catch (err) {
    await database.close().catch(() => {})
    // A start refused because of its peers (docs/SCALE-OUT.md) reads like a bad setting.
    if (err instanceof ConfigError) {
      process.stderr.write(`myntrix: invalid configuration: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }

  if (dataDirWarning) app.log.warn(dataDirWarning)
  const ambient = ambientCapabilities()
  if (ambient !== 0n) {
    app.log.error(
      `the server holds ambient capabilities (CapAmb ${ambient.toString(16)}): every agent and script task ` +
        'inherits them whatever user it runs as, and with CAP_SETUID could make itself root. Start the ' +
        'server without AmbientCapabilities (see docs/SECURITY.md, recommended deployment)',
    )
  }
  if (config.children.user) {
    app.log.info({ childUser: config.children.user.name }, 'agents and script tasks run as another user')
  } else if (config.children.trustOperators) {
    app.log.warn(
      "MYNTRIX_TRUST_OPERATORS=true: agents and script tasks run as the server's own user and operators may " +
        "create and start agents, so every operator can read the server's secrets (JWT secret, database)",
    )
  } else if (process.getuid?.() === 0) {
    // Only MYNTRIX_CHILD_USER=root gets here: unset, a root server uses nobody.
    app.log.warn(
      'MYNTRIX_CHILD_USER=root: AGENTS AND SCRIPT TASKS RUN AS ROOT. They can read the JWT secret, the ' +
        "database and the server's start-up environment, and do anything on this host; only admins may " +
        'create or change agents and agent tasks. Unset MYNTRIX_CHILD_USER (nobody) or name a dedicated user.',
    )
  } else {
    app.log.warn(
      "agents and script tasks run as the server's own user and can read its secrets, so only admins may " +
        'create or change agents and agent tasks; to let operators do so, run children as another user ' +
        '(MYNTRIX_CHILD_USER, see docs/SECURITY.md)',
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

  let address: string
  try {
    address = await app.listen({ host: config.host, port: config.port })
  } catch (err) {
    // The areas have started (agents run): a start-up that fails here must stop them,
    // or they outlive this process beside the ones the next start runs.
    await app.close().catch(() => {})
    await database.close().catch(() => {})
    throw err
  }
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
