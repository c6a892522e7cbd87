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
