// Wires the agents area: supervisor + service + routes, with its settings
// section (MYNTRIX_AGENT_*, validated in src/config; see docs/AGENTS.md).

import type { AgentsSettings, ChildrenSettings } from '../../config/index.js'
import { onlyAdminsDecide } from '../../config/index.js'
import { childWorkspace } from '../../process/child-user.js'
import type { Area, AreaContext } from '../area.js'
import { ClusteredAgentsService } from './clustered-service.js'
import { safeBaseEnv } from './env.js'
import { agentRoutes } from './routes.js'
import { runtimeRoutes } from './runtime-routes.js'
import { RuntimeChoice } from './runtimes/choice.js'
import { DockerRuntime } from './runtimes/docker.js'
import { ProcessRuntime } from './runtimes/process.js'
import { AgentsService, type AgentsServiceOptions } from './service.js'
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
  // The engine is asked only when a container agent starts (or the runtimes are listed):
  // a server without Docker runs process agents as before.
  const docker = new DockerRuntime({ host: settings.dockerHost, node: settings.nodeName })
  const supervisor = new Supervisor({
    ...settings,
    runtime: new RuntimeChoice(new ProcessRuntime(childUser), docker),
    baseDir: workspace.cwd,
    baseEnv,
  })
  const options: AgentsServiceOptions = {
    db: ctx.db,
    bus: ctx.bus,
    logger: ctx.logger,
    supervisor,
    logDir: settings.logDir,
    childrenShareServerUser: onlyAdminsDecide(children),
    findOwner: ctx.findUser,
    findLeftovers: () => docker.adopt(),
    protectedPaths: [settings.dataDir],
    nodeName: ctx.cluster.node.name,
  }
  const { leases, rpc } = ctx.cluster
  // In a cluster, running agents are held by lease and actions go to their holder.
  const service =
    leases && rpc
      ? new ClusteredAgentsService(options, { ...ctx.cluster, leases, rpc }, ctx.cluster.renewIntervalMs)
      : new AgentsService(options)
  return {
    name: 'agents',
    service,
    supervisor,
    routes: (app) => {
      agentRoutes(app, service, ctx.bus)
      runtimeRoutes(app, docker)
    },
    start: () => service.resume(),
    stop: () => service.stop(),
  }
}
