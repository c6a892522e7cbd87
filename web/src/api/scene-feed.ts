// The scene feed (/ws/myntrix/visualization) is the console's pulse: every
// agent's and device's status, health and load, the host's CPU and memory, and
// counts of everything, pushed as they change (at most 10 times a second). The
// console keeps the scene in the query cache under ['scene'] and folds each
// change into the agents list too, so lists and the overview move without
// polling. An added or removed agent makes the list refetch.

import { type QueryClient, useQuery, useQueryClient } from '@tanstack/react-query'
import { api, unwrap } from './client'
import { type Envelope, type FeedState, useLiveFeed } from './live'
import { mapPage, type Paged } from './paging'
import type { Agent, Scene, SceneAgent, SceneDelta } from './types'

export const sceneKey = ['scene'] as const
export const agentsKey = ['agents'] as const

function applyDelta(scene: Scene, delta: SceneDelta): Scene {
  const merge = <T extends { id: string }>(list: T[], changed: T[], removed: string[]): T[] => {
    const byId = new Map(changed.map((x) => [x.id, x]))
    const gone = new Set(removed)
    const kept = list.filter((x) => !gone.has(x.id)).map((x) => byId.get(x.id) ?? x)
    const known = new Set(list.map((x) => x.id))
    return [...kept, ...changed.filter((x) => !known.has(x.id))]
  }
  return {
    ...scene,
    timestamp: delta.timestamp,
    agents: merge(scene.agents, delta.agents, delta.removed.agents),
    devices: merge(scene.devices, delta.devices, delta.removed.devices),
    core: delta.core ?? scene.core,
    links: delta.links ?? scene.links,
    summary: delta.summary ?? scene.summary,
  }
}

/** The live facts of a scene agent laid over the agent as the API last sent it. */
function patchAgent(agent: Agent, live: SceneAgent): Agent {
  if (
    agent.status === live.status &&
    agent.health === live.health &&
    agent.lastRun === live.lastRun &&
    agent.cpuPercent === live.cpuPercent &&
    agent.memoryBytes === live.memoryBytes
  ) {
    return agent
  }
  return {
    ...agent,
    status: live.status as Agent['status'],
    health: live.health,
    lastRun: live.lastRun,
    cpuPercent: live.cpuPercent,
    memoryBytes: live.memoryBytes,
  }
}

function foldIntoAgents(client: QueryClient, changed: SceneAgent[], removed: string[]): void {
  if (removed.length > 0) {
    void client.invalidateQueries({ queryKey: agentsKey })
    return
  }
  if (changed.length === 0) return
  // One pass over each cached page for the whole change, not one per agent.
  const live = new Map(changed.map((a) => [a.id, a]))
  const unseen = new Set(live.keys())
  client.setQueriesData<Paged<Agent>>({ queryKey: [...agentsKey, 'list'] }, (page) =>
    mapPage(page, (agent) => {
      const next = live.get(agent.id)
      if (!next) return agent
      unseen.delete(agent.id)
      return patchAgent(agent, next)
    }),
  )
  for (const next of changed) {
    client.setQueryData<Agent>([...agentsKey, 'one', next.id], (agent) => agent && patchAgent(agent, next))
  }
  // An agent no cached page holds may be new: the pages' totals and order may have moved.
  const pages = client.getQueriesData<Paged<Agent>>({ queryKey: [...agentsKey, 'list'] })
  const known = pages.reduce((n, [, page]) => Math.max(n, page?.total ?? 0), 0)
  const scene = client.getQueryData<Scene>(sceneKey)
  if (unseen.size > 0 && scene && scene.agents.length !== known) {
    void client.invalidateQueries({ queryKey: [...agentsKey, 'list'] })
  }
}

/** Subscribes to the scene feed while mounted; the scene itself is read with useScene(). */
export function useSceneFeed(): FeedState {
  const client = useQueryClient()
  return useLiveFeed('/ws/myntrix/visualization', (message: Envelope) => {
    if (message.type === 'snapshot') {
      const scene = message.payload as Scene
      client.setQueryData(sceneKey, scene)
      foldIntoAgents(client, scene.agents, [])
    } else if (message.type === 'delta') {
      const delta = message.payload as SceneDelta
      client.setQueryData<Scene>(sceneKey, (scene) => (scene ? applyDelta(scene, delta) : scene))
      foldIntoAgents(client, delta.agents, delta.removed.agents)
    }
  })
}

export function useScene() {
  return useQuery({
    queryKey: sceneKey,
    // openapi-fetch's answer type loosens the [x, y, z] tuples to number[]; the schema's own type is exact.
    queryFn: async () => unwrap(await api.GET('/api/myntrix/visualization-data')) as unknown as Scene,
    // The feed keeps it fresh; a refetch would only race it.
    staleTime: Number.POSITIVE_INFINITY,
  })
}
