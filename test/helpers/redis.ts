// The local Redis the cluster tests use (127.0.0.1:6379). Suites skip with a
// printed reason without it; .ci/run starts it and test/ci-guard.test.ts
// insists it answered in CI.

import { connect } from 'node:net'

export const REDIS_URL = 'redis://127.0.0.1:6379'

export function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 6379 })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * The environment of one server process of a test cluster: the shared database and Redis, its
 * node name, the shared JWT secret (a token from one node works on all), short leases.
 */
export function clusterServerEnv(
  databaseUrl: string,
  name: string,
  jwtSecret: string,
): Record<string, string> {
  return {
    MYNTRIX_DATABASE_URL: databaseUrl,
    MYNTRIX_REDIS_URL: REDIS_URL,
    MYNTRIX_NODE_NAME: name,
    MYNTRIX_JWT_SECRET: jwtSecret,
    MYNTRIX_LEASE_TTL_MS: '2000',
    MYNTRIX_LEASE_RENEW_MS: '500',
  }
}
