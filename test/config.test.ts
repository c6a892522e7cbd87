import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config/index.js'
import { ConfigError } from '../src/errors.js'

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({})
    expect(c.host).toBe('127.0.0.1')
    expect(c.port).toBe(8080)
    expect(c.dataDir).toMatch(/\/data$/)
    expect(c.databaseUrl).toBe(`sqlite://${c.dataDir}/myntrix.db`)
    expect(c.logLevel).toBe('info')
    expect(c.deviceFiles.uploadMaxMb).toBe(50)
    expect(c.monitoring.public).toBe(false)
    // The outbound policy's safe default: nothing opened beyond it, private ranges allowed.
    expect(c.outbound.allow).toEqual([])
    expect(c.outbound.allowPrivate).toBe(true)
  })

  it.each([
    [{ MYNTRIX_PORT: 'eighty' }, 'MYNTRIX_PORT', /integer between 0 and 65535/],
    [{ MYNTRIX_PORT: '70000' }, 'MYNTRIX_PORT', /got 70000/],
    [{ MYNTRIX_LOG_LEVEL: 'loud' }, 'MYNTRIX_LOG_LEVEL', /one of fatal, error/],
    [{ MYNTRIX_DATABASE_URL: 'mysql://x' }, 'MYNTRIX_DATABASE_URL', /sqlite:\/\/\/abs\/path\.db/],
    [{ MYNTRIX_DATABASE_URL: 'sqlite://relative.db' }, 'MYNTRIX_DATABASE_URL', /absolute path/],
    [{ MYNTRIX_ADMIN_PASSWORD: 'short' }, 'MYNTRIX_ADMIN_PASSWORD', /at least 8/],
    [{ MYNTRIX_JWT_SECRET: 'tiny' }, 'MYNTRIX_JWT_SECRET', /at least 32/],
    [{ MYNTRIX_METRICS_PUBLIC: 'maybe' }, 'MYNTRIX_METRICS_PUBLIC', /true or false/],
    [{ MYNTRIX_HOST: 'bad host' }, 'MYNTRIX_HOST', /host name or IP/],
    [
      { MYNTRIX_OUTBOUND_ALLOW: 'printer.lan, 10.0.0.0/33' },
      'MYNTRIX_OUTBOUND_ALLOW',
      /entry "10.0.0.0\/33"/,
    ],
    [{ MYNTRIX_OUTBOUND_ALLOW: '127.0.0.1:0' }, 'MYNTRIX_OUTBOUND_ALLOW', /optionally with :port/],
    [{ MYNTRIX_OUTBOUND_PRIVATE: 'maybe' }, 'MYNTRIX_OUTBOUND_PRIVATE', /allow or deny/],
  ])('rejects %o naming the variable', (env, variable, pattern) => {
    const err = configError(env as Record<string, string>)
    expect(err.variable).toBe(variable)
    expect(err.message.startsWith(`${variable}: `)).toBe(true)
    expect(err.message).toMatch(pattern)
  })

  it('reads the process heartbeat as MYNTRIX_HEARTBEAT_MS, and the old name with a warning', () => {
    expect(loadConfig({}).heartbeatMs).toBe(5000)
    expect(loadConfig({}).warnings).toEqual([])
    expect(loadConfig({ MYNTRIX_HEARTBEAT_MS: '700' }).heartbeatMs).toBe(700)
    const old = loadConfig({ MYNTRIX_SCHEDULER_HEARTBEAT_MS: '800' })
    expect(old.heartbeatMs).toBe(800)
    expect(old.warnings).toEqual([
      'MYNTRIX_SCHEDULER_HEARTBEAT_MS is deprecated: name it MYNTRIX_HEARTBEAT_MS (the process heartbeat)',
    ])
    const both = loadConfig({ MYNTRIX_HEARTBEAT_MS: '700', MYNTRIX_SCHEDULER_HEARTBEAT_MS: '800' })
    expect(both.heartbeatMs).toBe(700)
    expect(both.warnings).toHaveLength(1)
    expect(configError({ MYNTRIX_SCHEDULER_HEARTBEAT_MS: '5' }).variable).toBe(
      'MYNTRIX_SCHEDULER_HEARTBEAT_MS',
    )
  })

  it('gives each area its own section, and no area the environment', () => {
    const c = loadConfig({
      MYNTRIX_DATA_DIR: '/tmp/myntrix-config-test',
      MYNTRIX_AGENT_LOG_FILES: '5',
      MYNTRIX_UPLOAD_EXTENSIONS: 'marlin=.gcode',
      MYNTRIX_API_ACTION_ALLOW: 'Example.com, api.lan',
      MYNTRIX_REDIS_URL: 'redis://127.0.0.1:6380',
    })
    expect(c.agents.logFile.maxFiles).toBe(5)
    expect(c.agents.logDir).toBe('/tmp/myntrix-config-test/logs/agents')
    expect(c.deviceFiles.extensions.marlin).toEqual(['.gcode'])
    expect(c.deviceFiles.dir).toBe('/tmp/myntrix-config-test/device-files')
    expect(c.scheduler.apiActionAllow).toEqual(['example.com', 'api.lan'])
    expect(c.outbound.redisUrl).toBe('redis://127.0.0.1:6380')
    expect('raw' in c).toBe(false)
  })

  it.each([
    [{ MYNTRIX_AGENT_LOG_FILES: 'many' }, 'MYNTRIX_AGENT_LOG_FILES'],
    [{ MYNTRIX_SCHEDULER_MAX_SLEEP_MS: '10' }, 'MYNTRIX_SCHEDULER_MAX_SLEEP_MS'],
    [{ MYNTRIX_UPLOAD_EXTENSIONS: 'marlin' }, 'MYNTRIX_UPLOAD_EXTENSIONS'],
    [{ MYNTRIX_HEARTBEAT_MS: '0' }, 'MYNTRIX_HEARTBEAT_MS'],
  ])('validates area settings at start-up too: %o', (env, variable) => {
    const err = configError(env as Record<string, string>)
    expect(err.variable).toBe(variable)
    expect(err.message).toMatch(new RegExp(`^${variable}: `))
  })

  it('has a cluster section: one instance unless PostgreSQL and Redis are both set', () => {
    const one = loadConfig({})
    expect(one.cluster).toMatchObject({ redisUrl: null, leaseTtlMs: 15_000, renewIntervalMs: 5000 })
    expect(one.cluster.nodeName).toBe(os.hostname())
    // On SQLite the Redis URL only feeds the outbound policy, as it did before scale-out.
    const sqlite = loadConfig({ MYNTRIX_REDIS_URL: 'redis://127.0.0.1:6379' })
    expect(sqlite.cluster.redisUrl).toBeNull()
    expect(sqlite.outbound.redisUrl).toBe('redis://127.0.0.1:6379')
    const pg = loadConfig({
      MYNTRIX_DATABASE_URL: 'postgres://u@h:5432/d',
      MYNTRIX_REDIS_URL: 'redis://127.0.0.1:6379',
      MYNTRIX_NODE_NAME: 'node-a',
      MYNTRIX_LEASE_TTL_MS: '3000',
      MYNTRIX_LEASE_RENEW_MS: '1000',
    })
    expect(pg.cluster).toMatchObject({
      nodeName: 'node-a',
      redisUrl: 'redis://127.0.0.1:6379',
      leaseTtlMs: 3000,
      renewIntervalMs: 1000,
    })
    // Docker labels name the same node.
    expect(pg.agents.nodeName).toBe('node-a')
  })

  it.each([
    [{ MYNTRIX_NODE_NAME: 'a b' }, 'MYNTRIX_NODE_NAME', /letters, digits/],
    [{ MYNTRIX_LEASE_TTL_MS: '10' }, 'MYNTRIX_LEASE_TTL_MS', /between 1000 and/],
    [{ MYNTRIX_LEASE_RENEW_MS: 'often' }, 'MYNTRIX_LEASE_RENEW_MS', /integer/],
    [
      { MYNTRIX_LEASE_TTL_MS: '3000', MYNTRIX_LEASE_RENEW_MS: '2000' },
      'MYNTRIX_LEASE_RENEW_MS',
      /at most half/,
    ],
    [{ MYNTRIX_RPC_TIMEOUT_MS: '5' }, 'MYNTRIX_RPC_TIMEOUT_MS', /between 100 and/],
    [
      { MYNTRIX_DATABASE_URL: 'postgres://u@h/d', MYNTRIX_REDIS_URL: 'http://r:6379' },
      'MYNTRIX_REDIS_URL',
      /redis:\/\/ or rediss:\/\//,
    ],
    [
      { MYNTRIX_DATABASE_URL: 'postgres://u@h/d', MYNTRIX_REDIS_URL: 'not a url' },
      'MYNTRIX_REDIS_URL',
      /URL/,
    ],
  ])('refuses a bad cluster setting with one line: %o', (env, variable, message) => {
    const err = configError(env as Record<string, string>)
    expect(err.variable).toBe(variable)
    expect(err.message).toMatch(message)
    expect(err.message).not.toContain('\n')
  })

  it('accepts the three database URL forms', () => {
    expect(loadConfig({ MYNTRIX_DATABASE_URL: 'sqlite::memory:' }).databaseUrl).toBe('sqlite::memory:')
    expect(loadConfig({ MYNTRIX_DATABASE_URL: 'sqlite:///tmp/x.db' }).databaseUrl).toBe('sqlite:///tmp/x.db')
    expect(loadConfig({ MYNTRIX_DATABASE_URL: 'postgres://u@h:5432/d' }).databaseUrl).toBe(
      'postgres://u@h:5432/d',
    )
  })
})
