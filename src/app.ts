// buildApp(deps): the whole app without listening, for main.ts and tests.
// Runs migrations, ensures the first admin, builds every area, registers
// routes, and starts the areas. app.close() stops them in reverse order; the
// database belongs to the caller and is not closed here.

import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyServerOptions, LogController } from 'fastify'
import { AuditLog } from './auth/audit.js'
import { LoginLimiter } from './auth/login-limiter.js'
import { RedisLoginLimiter } from './auth/redis-login-limiter.js'
import { AuthRetention } from './auth/retention.js'
import { authRoutes } from './auth/routes.js'
import { loadOrCreateJwtSecret } from './auth/secret.js'
import { AuthService } from './auth/service.js'
import { joinCluster } from './cluster/index.js'
import type { Config } from './config/index.js'
import { newId } from './db/ids.js'
import { type DatabaseHandle, migrate } from './db/index.js'
import { installAuthHook } from './http/auth-hook.js'
import { consoleRoutes } from './http/console.js'
import { installCors } from './http/cors.js'
import { installInputGuards } from './http/input.js'
import { frameworkErrors, installProblemHandlers, MAX_PARAM_LENGTH } from './http/problem.js'
import { installRequestLog } from './http/request-log.js'
import { routeValidator } from './http/route-validator.js'
import { systemRoutes } from './http/system-routes.js'
import type { Logger } from './logger.js'
import { createAgentsArea } from './modules/agents/index.js'
import { createAlertsArea } from './modules/alerts/index.js'
import type { AppInstance, Area, AreaContext } from './modules/area.js'
import { createDeviceFilesArea } from './modules/device-files/index.js'
import { createDeviceQueuesArea } from './modules/device-queues/index.js'
import { createDevicesArea } from './modules/devices/index.js'
import { createJobsArea } from './modules/jobs/index.js'
import { createMonitoringArea } from './modules/monitoring/index.js'
import { listMountPoints } from './modules/monitoring/mounts.js'
import { createNotificationsArea } from './modules/notifications/index.js'
import { createSchedulerArea } from './modules/scheduler/index.js'
import { createVisualizationArea } from './modules/visualization/index.js'
import { createOutboundPolicy } from './net/outbound-policy.js'
import { InstanceRegistry, processLiveness } from './process/liveness.js'

export interface AppDeps {
  config: Config
  database: DatabaseHandle
  /** Fastify/pino logger options; tests pass false. Defaults from config.logLevel. */
  logger?: FastifyServerOptions['logger']
  /** The built web console; default web/dist in the repository. */
  consoleDir?: string
}

export interface MyntrixHandle {
  context: AreaContext
  /** Not part of the areas' context (they get context.findUser); for tests and tools. */
  auth: AuthService
  areas: Area[]
  /** The password generated for the first admin, when this start created it. */
  generatedAdminPassword?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    myntrix: MyntrixHandle
  }
}

export async function buildApp(deps: AppDeps): Promise<AppInstance> {
  const { config, database } = deps
  const app = Fastify({
    logger: deps.logger ?? {
      level: config.logLevel,
      // Nothing logged carries these, but a stray `req` object in an error must not leak them either.
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[REDACTED]' },
    },
    // One line per request from installRequestLog instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    frameworkErrors,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    bodyLimit: 10 * 1024 * 1024,
    forceCloseConnections: true,
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>()
  // Every route's schema is checked as the services check theirs (src/validation.ts): bodies as sent.
  app.setValidatorCompiler(routeValidator)

  const logger = app.log as unknown as Logger
  // Deprecated or retired settings still set: one line each, so they are noticed and renamed.
  for (const warning of config.warnings) logger.warn(warning)
  await migrate(database)

  const jwtSecret = loadOrCreateJwtSecret(config.dataDir, config.jwtSecret)
  const audit = new AuditLog(database.db, (err) => logger.error({ err }, 'audit log write failed'), {
    coalesceMs: config.auditCoalesceSeconds * 1000,
  })

  const instanceId = newId()
  // Before anything is built: a start that would be unsafe beside its peers stops here.
  const cluster = await joinCluster({
    settings: config.cluster,
    db: database.db,
    engine: database.engine,
    instanceId,
    logger,
    secret: jwtSecret,
  })
  const loginWindowMs = config.loginWindowSeconds * 1000
  // In a cluster failed logins are counted in Redis, so a guesser gains nothing by
  // spreading attempts over the nodes; the local count answers while Redis does not.
  const localLoginLimiter = new LoginLimiter(config.loginMaxAttempts, loginWindowMs)
  const auth = new AuthService({
    db: database.db,
    jwtSecret,
    jwtTtlSeconds: config.jwtTtlSeconds,
    sessionTtlSeconds: config.sessionTtlSeconds,
    loginMaxAttempts: config.loginMaxAttempts,
    loginWindowSeconds: config.loginWindowSeconds,
    loginLimiter: cluster.redis
      ? new RedisLoginLimiter({
          redis: cluster.redis,
          maxAttempts: config.loginMaxAttempts,
          windowMs: loginWindowMs,
          local: localLoginLimiter,
          logger,
        })
      : localLoginLimiter,
  })
  const context: AreaContext = {
    instanceId,
    // Held by the jobs ledger and the scheduler while they have work in flight.
    liveness: processLiveness(
      new InstanceRegistry(database.db, database.engine),
      instanceId,
      config.heartbeatMs,
      (err) => logger.warn({ err }, 'heartbeat write failed; retrying'),
    ),
    watchDbChanges: database.watchChanges,
    db: database.db,
    dbEngine: database.engine,
    cluster,
    bus: cluster.bus,
    logger,
    outbound: createOutboundPolicy({
      ...config.outbound,
      port: config.port,
      databaseUrl: config.databaseUrl,
    }),
    async findUser(id) {
      const user = await auth.repo.findUserById(id)
      return user && { role: user.role, disabled: user.disabled }
    },
  }

  // ---- areas, in dependency order; each line below is one area ----
  const areas: Area[] = []
  const jobs = createJobsArea(context)
  areas.push(jobs)
  // Early, so it hears the other areas start and stop, and writes what it heard before it stops.
  // It names resources through the areas built below; it asks only once events come, after start.
  areas.push(
    createNotificationsArea(context, config.notifications, {
      resources: {
        agent: (id) => agents.service.facts(id),
        device: (id) => devices.service.facts(id),
        task: (id) => scheduler.service.taskFacts(id),
        run: (id) => scheduler.service.runFacts(id),
      },
    }),
  )
  const monitoring = createMonitoringArea(context, config.monitoring)
  areas.push(monitoring)
  const agents = createAgentsArea(context, config.agents, config.children)
  areas.push(agents)
  const devices = createDevicesArea(context)
  areas.push(devices)
  areas.push(
    createAlertsArea(context, {
      devices: devices.service,
      hostSamples: (listener) => monitoring.service.sampler.onSample(listener),
      measureMounts: (wanted) => monitoring.service.sampler.measureMounts(wanted),
      mountPoints: () => listMountPoints(),
      // Asked only when an alert fires, after start, when the areas below exist.
      safety: {
        pauseTransfer: async (deviceId) => {
          const transfer = deviceFiles.service.activeTransfer(deviceId)
          transfer?.pause()
          return transfer?.jobId ?? null
        },
        cancelTransfer: async (deviceId, reason) => {
          const transfer = deviceFiles.service.activeTransfer(deviceId)
          await transfer?.cancel(reason)
          return transfer?.jobId ?? null
        },
        command: async (deviceId, text) => {
          const connection = devices.service.connectionOf(deviceId)
          if (!connection) throw new Error('the device is not connected')
          return connection.command(text)
        },
        jobLog: (jobId, line) => jobs.service.appendLog(jobId, line),
        ownerOf: async (deviceId) => (await devices.service.facts(deviceId))?.ownerId,
      },
    }),
  )
  const deviceFiles = createDeviceFilesArea(context, config.deviceFiles, {
    jobs: jobs.service,
    devices: devices.service,
  })
  areas.push(deviceFiles)
  areas.push(
    createDeviceQueuesArea(context, {
      jobs: jobs.service,
      devices: devices.service,
      deviceFiles: deviceFiles.service,
    }),
  )
  const scheduler = createSchedulerArea(context, config.scheduler, config.children, {
    jobs: jobs.service,
    agents: agents.service,
    devices: devices.service,
    deviceFiles: deviceFiles.service,
  })
  areas.push(scheduler)
  // The scene reads every other area: keep it last.
  areas.push(
    createVisualizationArea(context, {
      agentFacts: (id) => agents.service.liveFacts(id),
      hostMetrics: () => {
        const sample = monitoring.service.sampler.current()
        return sample ? { cpuPercent: sample.cpu.percent, memoryPercent: sample.memory.percent } : null
      },
    }),
  )

  // Credentials and audit housekeeping; listed last, so it stops first and the
  // audit's open summary rows are written while the database is still there.
  const authRetention = new AuthRetention({
    auth,
    audit,
    auditDays: config.auditRetentionDays,
    logger,
  })
  areas.push({
    name: 'auth',
    start: async () => authRetention.start(),
    stop: async () => {
      await authRetention.stop()
      await audit.stop()
    },
  })

  // After the areas are built, so an area that cannot be built stops start-up before anything is created.
  const admin = await auth.ensureAdmin(config.adminPassword)
  if (admin.generatedPassword) {
    logger.warn(
      { username: 'admin' },
      `first start: created user "admin" with generated password ${admin.generatedPassword} (shown once; change it with PUT /api/auth/users/{id})`,
    )
  } else if (admin.created) {
    logger.info({ username: 'admin' }, 'first start: created user "admin" with MYNTRIX_ADMIN_PASSWORD')
  }
  app.decorate('myntrix', { context, auth, areas, generatedAdminPassword: admin.generatedPassword })

  installProblemHandlers(app)
  installRequestLog(app)
  installInputGuards(app, { bodyIdleTimeoutMs: config.uploadIdleTimeoutMs })
  // The websocket plugin's own hooks must run before the auth hook: they mark an
  // upgrade request so that a refused one (401) has its socket destroyed.
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } })
  // Parses the session cookie before the auth hook reads it.
  await app.register(cookie)
  installCors(app, config.corsOrigin)
  installAuthHook(app, {
    auth,
    audit,
    publicPaths: config.monitoring.public ? ['/metrics'] : [],
    streamRecheckMs: config.streamAuthRecheckMs,
    corsOrigin: config.corsOrigin,
    cookieSecure: config.cookieSecure,
  })

  await app.register(formbody)
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Myntrix API',
        version: '0.1.0',
        description:
          'Control plane for the Myntrix dashboard. Authenticate with POST /api/auth/token, then send Authorization: Bearer <token>; browsers log in with POST /api/auth/session and send the myntrix_session cookie.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT or myx_ API key' } },
      },
      security: [{ bearer: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  await systemRoutes(app, { database })
  await authRoutes(app, {
    auth,
    audit,
    cookieSecure: config.cookieSecure,
    corsOrigin: config.corsOrigin,
  })
  for (const area of areas) await area.routes?.(app)
  // Last: its fallback route answers only what no other route matched.
  await consoleRoutes(app, { dir: deps.consoleDir })

  app.addHook('onClose', async () => {
    for (const area of [...areas].reverse()) {
      try {
        await area.stop?.()
      } catch (err) {
        logger.error({ err, area: area.name }, 'area failed to stop cleanly')
      }
    }
    // Last: an area stopping may still hold the heartbeat (a transfer ending its job).
    await context.liveness.stop()
    await cluster.stop()
  })

  await app.ready()
  // Before the areas start: they take leases (agents resume) and forward requests.
  await cluster.start()
  for (const area of areas) await area.start?.()
  return app
}
