// The scene service: builds payloads for a caller, and pushes live updates to
// subscribers — a full snapshot first, then deltas carrying only changed
// entities, coalesced to at most one per FLUSH_INTERVAL_MS (10 per second).

import { ownerScope, type Principal } from '../../auth/principal.js'
import type { Database } from '../../db/types.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import { LayoutStore } from './layout-store.js'
import { SceneRepository } from './repository.js'
import { buildScene, type LiveFacts, type SceneAgent, type SceneDevice, type ScenePayload } from './scene.js'

export const FLUSH_INTERVAL_MS = 100
/** Pulses fade and host figures move without events: refresh subscribers this often. */
export const REFRESH_INTERVAL_MS = 1000

export interface SceneDelta {
  timestamp: string
  agents: SceneAgent[]
  devices: SceneDevice[]
  removed: { agents: string[]; devices: string[] }
  core?: ScenePayload['core']
  links?: ScenePayload['links']
  summary?: ScenePayload['summary']
}

export interface SceneMessage {
  type: 'snapshot' | 'delta'
  payload: ScenePayload | SceneDelta
}

export interface SceneSubscriber {
  /** Returns false when the client is behind; it then gets a fresh snapshot once it catches up. */
  send(message: SceneMessage): boolean
}

export interface VisualizationSources {
  agentFacts?(id: string): { cpuPercent: number | null; memoryBytes: number | null } | undefined
  hostMetrics?(): { cpuPercent: number; memoryPercent: number } | null
}

interface Subscription {
  principal: Principal
  sink: SceneSubscriber
  /** What this client has: entity id → its JSON, plus the JSON of core/links/summary. */
  sent: {
    agents: Map<string, string>
    devices: Map<string, string>
    core: string
    links: string
    summary: string
  } | null
}

export class VisualizationService {
  private readonly repo: SceneRepository
  readonly layout: LayoutStore
  private readonly telemetry = new Map<string, { readings: Record<string, unknown>; at: Date }>()
  private readonly subscriptions = new Set<Subscription>()
  private readonly unsubscribers: (() => void)[] = []
  private flushTimer: NodeJS.Timeout | null = null
  private refreshTimer: NodeJS.Timeout | null = null
  private lastFlushAt = 0
  private flushing: Promise<void> | null = null
  private dirty = false

  constructor(
    db: Database,
    private readonly bus: EventBus,
    private readonly sources: VisualizationSources,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.repo = new SceneRepository(db)
    this.layout = new LayoutStore(db)
  }

  async start(): Promise<void> {
    await this.layout.load()
    await this.layout.prune(await this.repo.allIds())
    const mark = () => this.markDirty()
    // What the scene streams to clients follows every node's events (onAnyNode); freeing a
    // deleted resource's layout slot is a write, done once, by the node where it was deleted.
    this.unsubscribers.push(
      this.bus.onAnyNode('agent.status', mark),
      this.bus.onAnyNode('device.status', mark),
      this.bus.onAnyNode('job.updated', mark),
      this.bus.onAnyNode('task.run', mark),
      this.bus.onAnyNode('device.telemetry', (e) => {
        this.telemetry.set(e.deviceId, { readings: e.readings, at: new Date(e.ts) })
        this.markDirty()
      }),
      this.bus.onAnyNode('agent.deleted', mark),
      this.bus.onAnyNode('device.deleted', (e) => {
        this.telemetry.delete(e.deviceId)
        this.markDirty()
      }),
      this.bus.on('agent.deleted', (e) => void this.layout.release(e.agentId).catch(() => {})),
      this.bus.on('device.deleted', (e) => void this.layout.release(e.deviceId).catch(() => {})),
    )
    this.refreshTimer = setInterval(() => {
      if (this.subscriptions.size > 0) this.markDirty()
    }, REFRESH_INTERVAL_MS)
    this.refreshTimer.unref()
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribers.splice(0)) off()
    if (this.flushTimer) clearTimeout(this.flushTimer)
    if (this.refreshTimer) clearInterval(this.refreshTimer)
    this.flushTimer = null
    this.refreshTimer = null
    this.subscriptions.clear()
    await this.flushing
  }

  /** The scene as this caller may see it (admins: everything). */
  async snapshot(principal: Principal): Promise<ScenePayload> {
    return this.build(ownerScope(principal))
  }

  private async build(ownerId: string | null): Promise<ScenePayload> {
    const data = await this.repo.load(ownerId)
    await this.layout.ensure([
      ...data.agents.map((a) => ({ id: a.id, kind: 'agent' as const, group: a.type })),
      ...data.devices.map((d) => ({ id: d.id, kind: 'device' as const, group: d.type })),
    ])
    const live: LiveFacts = {
      agent: (id) => this.sources.agentFacts?.(id),
      telemetry: (id) => this.telemetry.get(id),
      host: () => this.sources.hostMetrics?.() ?? null,
    }
    return buildScene(data, this.layout, live, this.now())
  }

  /** Subscribe to live updates; the first message (a snapshot) follows at once. Returns unsubscribe. */
  subscribe(principal: Principal, sink: SceneSubscriber): () => void {
    const sub: Subscription = { principal, sink, sent: null }
    this.subscriptions.add(sub)
    this.markDirty(true)
    return () => {
      this.subscriptions.delete(sub)
    }
  }

  private markDirty(immediately = false): void {
    this.dirty = true
    if (this.flushTimer) return
    const wait = immediately ? 0 : Math.max(0, this.lastFlushAt + FLUSH_INTERVAL_MS - Date.now())
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null
      if (this.flushing) {
        // A flush is running; run again right after it.
        void this.flushing.then(() => this.markDirty())
        return
      }
      this.flushing = this.flush().finally(() => {
        this.flushing = null
      })
    }, wait)
  }

  private async flush(): Promise<void> {
    if (!this.dirty || this.subscriptions.size === 0) return
    this.dirty = false
    this.lastFlushAt = Date.now()
    // One build per owner scope, shared by that scope's subscribers.
    const built = new Map<string, Promise<ScenePayload>>()
    for (const sub of [...this.subscriptions]) {
      const scope = ownerScope(sub.principal)
      const key = scope ?? '*'
      if (!built.has(key)) built.set(key, this.build(scope))
      try {
        this.deliver(sub, await built.get(key)!)
      } catch (err) {
        this.logger.warn({ err }, 'visualization update failed')
      }
    }
  }

  private deliver(sub: Subscription, scene: ScenePayload): void {
    if (!this.subscriptions.has(sub)) return
    const agents = new Map(scene.agents.map((a) => [a.id, JSON.stringify(a)]))
    const devices = new Map(scene.devices.map((d) => [d.id, JSON.stringify(d)]))
    const core = JSON.stringify(scene.core)
    const links = JSON.stringify(scene.links)
    const summary = JSON.stringify(scene.summary)
    const next = { agents, devices, core, links, summary }

    if (!sub.sent) {
      if (sub.sink.send({ type: 'snapshot', payload: scene })) sub.sent = next
      return
    }
    const prev = sub.sent
    const delta: SceneDelta = {
      timestamp: scene.timestamp,
      agents: scene.agents.filter((a) => prev.agents.get(a.id) !== agents.get(a.id)),
      devices: scene.devices.filter((d) => prev.devices.get(d.id) !== devices.get(d.id)),
      removed: {
        agents: [...prev.agents.keys()].filter((id) => !agents.has(id)),
        devices: [...prev.devices.keys()].filter((id) => !devices.has(id)),
      },
    }
    if (prev.core !== core) delta.core = scene.core
    if (prev.links !== links) delta.links = scene.links
    if (prev.summary !== summary) delta.summary = scene.summary
    const empty =
      delta.agents.length === 0 &&
      delta.devices.length === 0 &&
      delta.removed.agents.length === 0 &&
      delta.removed.devices.length === 0 &&
      !delta.core &&
      !delta.links &&
      !delta.summary
    if (empty) return
    // A client that could not take this delta has a gap: start it over with a snapshot.
    sub.sent = sub.sink.send({ type: 'delta', payload: delta }) ? next : null
  }
}
