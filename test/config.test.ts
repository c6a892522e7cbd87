import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
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
    expect(c.uploadMaxMb).toBe(50)
    expect(c.metricsPublic).toBe(false)
    // The outbound policy's safe default: nothing opened beyond it, private ranges allowed.
    expect(c.outboundAllow).toEqual([])
    expect(c.outboundPrivate).toBe(true)
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

  it('accepts the three database URL forms', () => {
    expect(loadConfig({ MYNTRIX_DATABASE_URL: 'sqlite::memory:' }).databaseUrl).toBe('sqlite::memory:')
    expect(loadConfig({ MYNTRIX_DATABASE_URL: 'sqlite:///tmp/x.db' }).databaseUrl).toBe('sqlite:///tmp/x.db')
    expect(loadConfig({ MYNTRIX_DATABASE_URL: 'postgres://u@h:5432/d' }).databaseUrl).toBe(
      'postgres://u@h:5432/d',
    )
  })
})
