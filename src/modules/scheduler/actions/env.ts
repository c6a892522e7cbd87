// The environment of a `script` action, built from scratch with the agents'
// rules (docs/AGENTS.md, environment): the server holds MYNTRIX_JWT_SECRET, database URLs and
// the admin password, so nothing is copied from it but these few variables.

/** Copied from the server's environment when set. Nothing else is. */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ'] as const

const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** base, then the payload's `env`, then the ids Myntrix sets (they always win). */
export function buildScriptEnv(
  own: Record<string, string> | undefined,
  ids: { taskId?: string; runId?: string },
  source: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of INHERITED_ENV) {
    const v = source[name]
    if (typeof v === 'string' && v !== '') env[name] = v
  }
  env.PATH ??= FALLBACK_PATH
  env.LANG ??= 'C.UTF-8'
  Object.assign(env, own)
  if (ids.taskId) env.MYNTRIX_TASK_ID = ids.taskId
  if (ids.runId) env.MYNTRIX_RUN_ID = ids.runId
  return env
}
