// Wires the agents area: supervisor + service + routes, with its settings
// section (MYNTRIX_AGENT_*, validated in src/config; see docs/AGENTS.md).

import type { AgentsSettings, ChildrenSettings } from '../../config/index.js'
import { onlyAdminsDecide } from '../../config/index.js'
import { childWorkspace } from '../../process/child-user.js'
import type { Area, AreaContext } from '../area.js'
import { safeBaseEnv } from './env.js'
import { agentRoutes } from './routes.js'
import { ProcessRuntime } from './runtimes/process.js'
import { AgentsService } from './service.js'
import { Supervisor } from './supervisor.js'

export interface AgentsArea extends Area {
  service: AgentsService
  supervisor: Supervisor
}

export function createAgentsArea(
  ctx: AreaContext,
  settings: AgentsSettings,
  children: ChildrenSettings,
): AgentsArea {
  const childUser = children.user
  // Log files are written by the server (the child only has pipes), so they stay in
  // the private data directory; the child starts somewhere its own user may enter.
  const workspace = childWorkspace(childUser)
  const baseEnv = safeBaseEnv()
  if (workspace.home) baseEnv.HOME = workspace.home
  else delete baseEnv.HOME
  const supervisor = new Supervisor({
    ...settings,
    runtime: new ProcessRuntime(childUser),
    baseDir: workspace.cwd,
    baseEnv,
  })
  const service = new AgentsService({
    db: ctx.db,
    bus: ctx.bus,
    logger: ctx.logger,
    supervisor,
    logDir: settings.logDir,
    childrenShareServerUser: onlyAdminsDecide(children),
    findOwner: ctx.findUser,
  })
  return {
    name: 'agents',
    service,
    supervisor,
    routes: (app) => agentRoutes(app, service, ctx.bus),
    start: () => service.resume(),
    stop: () => service.stop(),
  }
}
