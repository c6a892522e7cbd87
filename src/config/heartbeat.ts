// How often a process with work in flight marks itself alive on the shared
// database (src/process/liveness.ts). It was named MYNTRIX_SCHEDULER_HEARTBEAT_MS
// while only the scheduler held it; the jobs ledger holds it too, so it is the
// process's setting now. The old name is still read, with a warning.

import { type Env, int, str } from './env.js'

export const HEARTBEAT_SETTING = 'MYNTRIX_HEARTBEAT_MS'
const OLD_NAME = 'MYNTRIX_SCHEDULER_HEARTBEAT_MS'

export function heartbeatMs(env: Env, warnings: string[]): number {
  const current = str(env, HEARTBEAT_SETTING)
  const old = str(env, OLD_NAME)
  if (old !== undefined) {
    warnings.push(
      current === undefined
        ? `${OLD_NAME} is deprecated: name it ${HEARTBEAT_SETTING} (the process heartbeat)`
        : `${OLD_NAME} is deprecated and ignored: ${HEARTBEAT_SETTING} is set`,
    )
  }
  const name = current === undefined && old !== undefined ? OLD_NAME : HEARTBEAT_SETTING
  return int(env, name, 5000, 100, 600_000)
}
