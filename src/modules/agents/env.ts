// The child's environment is built from scratch, never copied from the server:
// the server holds MYNTRIX_JWT_SECRET, database URLs and the admin password.

import type { SupervisedConfig } from './config.js'

/** Variables copied from the server's environment into every agent's. Nothing else is. */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ'] as const

const FALLBACK = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
}

/** The safe base every agent gets, taken from `source` (normally process.env). */
export function safeBaseEnv(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const base: Record<string, string> = {}
  for (const name of INHERITED_ENV) {
    const v = source[name]
    if (typeof v === 'string' && v !== '') base[name] = v
  }
  base.PATH ??= FALLBACK.PATH
  base.LANG ??= FALLBACK.LANG
  return base
}

/** base, then the agent's own `env`, then the two variables Myntrix sets (they always win). */
export function buildAgentEnv(
  agentId: string,
  config: SupervisedConfig,
  base: Record<string, string>,
): Record<string, string> {
  return {
    ...base,
    ...config.env,
    MYNTRIX_AGENT_ID: agentId,
    MYNTRIX_AGENT_CONFIG: JSON.stringify(config.own),
  }
}
