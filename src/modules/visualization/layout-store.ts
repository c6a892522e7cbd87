// Assigns each entity a ring (from its group) and a slot once, keeps the
// assignment in the database and in memory, and frees it when the entity goes.

import type { Database } from '../../db/types.js'
import { ringOfGroup, type SceneKind } from './layout.js'

interface Assignment {
  kind: SceneKind
  ring: number
  slot: number
}

export class LayoutStore {
  private readonly slots = new Map<string, Assignment>()
  private readonly groups = new Map<string, number>()
  private readonly used = new Map<string, Set<number>>()
  private loaded = false

  constructor(private readonly db: Database) {}

  async load(): Promise<void> {
    this.slots.clear()
    this.groups.clear()
    this.used.clear()
    const [groups, slots] = await Promise.all([
      this.db.selectFrom('sceneGroups').selectAll().execute(),
      this.db.selectFrom('sceneSlots').selectAll().execute(),
    ])
    for (const g of groups) this.groups.set(`${g.kind}:${g.groupKey}`, Number(g.groupIndex))
    for (const s of slots) this.remember(s.entityId, s.kind as SceneKind, Number(s.ring), Number(s.slot))
    this.loaded = true
  }

  /** Drop assignments of entities that no longer exist (after downtime or deletes elsewhere). */
  async prune(existing: { agents: Set<string>; devices: Set<string> }): Promise<void> {
    for (const [id] of this.slots) {
      if (!existing.agents.has(id) && !existing.devices.has(id)) await this.release(id)
    }
  }

  get(id: string): Assignment | undefined {
    return this.slots.get(id)
  }

  /** Assign slots to the entities that have none; existing ones are untouched. */
  async ensure(entities: { id: string; kind: SceneKind; group: string }[]): Promise<void> {
    if (!this.loaded) await this.load()
    const missing = entities.filter((e) => !this.slots.has(e.id))
    if (missing.length === 0) return
    // Oldest first (ids are time-ordered UUIDv7), so a batch assigns in creation order.
    missing.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.assign(missing.filter((e) => !this.slots.has(e.id)))
        return
      } catch (err) {
        // Another Myntrix process took a group index or slot first: reload and retry.
        await this.load()
        if (attempt === 2) throw err
      }
    }
  }

  private async assign(entities: { id: string; kind: SceneKind; group: string }[]): Promise<void> {
    if (entities.length === 0) return
    const newGroups: { kind: string; groupKey: string; groupIndex: number }[] = []
    const newSlots: { entityId: string; kind: string; ring: number; slot: number }[] = []
    const groups = new Map(this.groups)
    const used = new Map([...this.used].map(([k, v]) => [k, new Set(v)]))
    for (const e of entities) {
      const groupKey = `${e.kind}:${e.group}`
      let index = groups.get(groupKey)
      if (index === undefined) {
        index = [...groups.entries()].filter(([k]) => k.startsWith(`${e.kind}:`)).length
        groups.set(groupKey, index)
        newGroups.push({ kind: e.kind, groupKey: e.group, groupIndex: index })
      }
      const ring = ringOfGroup(e.kind, index)
      const key = `${e.kind}:${ring}`
      let set = used.get(key)
      if (!set) {
        set = new Set()
        used.set(key, set)
      }
      let slot = 0
      while (set.has(slot)) slot++
      set.add(slot)
      newSlots.push({ entityId: e.id, kind: e.kind, ring, slot })
    }
    await this.db.transaction().execute(async (trx) => {
      for (const chunk of chunks(newGroups, 200)) await trx.insertInto('sceneGroups').values(chunk).execute()
      for (const chunk of chunks(newSlots, 200)) await trx.insertInto('sceneSlots').values(chunk).execute()
    })
    for (const [k, v] of groups) this.groups.set(k, v)
    for (const s of newSlots) this.remember(s.entityId, s.kind as SceneKind, s.ring, s.slot)
  }

  async release(id: string): Promise<void> {
    const a = this.slots.get(id)
    if (!a) return
    await this.db.deleteFrom('sceneSlots').where('entityId', '=', id).execute()
    this.slots.delete(id)
    // A freed slot is reused by the next new entity on that ring; nobody else moves.
    this.used.get(`${a.kind}:${a.ring}`)?.delete(a.slot)
  }

  private remember(id: string, kind: SceneKind, ring: number, slot: number): void {
    const key = `${kind}:${ring}`
    this.slots.set(id, { kind, ring, slot })
    let set = this.used.get(key)
    if (!set) {
      set = new Set()
      this.used.set(key, set)
    }
    set.add(slot)
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
