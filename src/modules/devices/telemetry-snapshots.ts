// The last telemetry of each device, where every node of a cluster can read it:
// a telemetry WebSocket on a node that does not hold the device starts with it
// (its first frames), as it would on the holder. Kept in Redis, not in the
// device row: readings arrive up to tens of times a second per device, and a
// row write per reading (or even per second, for a hundred devices) would load
// the database that decides ownership with data nobody queries. One key per
// device (`SET ... PX`), written by the holder only, latest wins: while one
// write is in flight the next reading replaces the waiting one, so a fast
// device costs at most one write per Redis round trip. The key expires on its
// own (a deleted device's too); an expired or unreadable snapshot is simply
// no first telemetry frame, as for a device that never reported. The value is
// sealed like every message between nodes (src/cluster/message-seal.ts): a
// process that can reach Redis can neither read a device's readings there nor
// put readings of its own in their place.

import type { Redis } from 'ioredis'
import type { MessageSeal } from '../../cluster/message-seal.js'

export interface TelemetrySnapshot {
  ts: string
  readings: Record<string, unknown>
}

const keyOf = (deviceId: string) => `myx:device:${deviceId}:telemetry`

export class SharedTelemetrySnapshots {
  private readonly waiting = new Map<string, TelemetrySnapshot>()
  private readonly writing = new Set<string>()
  private warned = false

  constructor(
    private readonly redis: Redis,
    private readonly seal: MessageSeal,
    private readonly ttlMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Records the device's latest readings (written soon, coalesced). */
  put(deviceId: string, snapshot: TelemetrySnapshot): void {
    this.waiting.set(deviceId, snapshot)
    if (!this.writing.has(deviceId)) void this.drain(deviceId)
  }

  /** The last readings any node recorded, or null (none, expired, or Redis away). */
  async get(deviceId: string): Promise<TelemetrySnapshot | null> {
    try {
      const key = keyOf(deviceId)
      const sealed = await this.redis.get(key)
      if (!sealed) return null
      // Written at most ttlMs ago (the key's own expiry); a value that does not open is none.
      const opened = this.seal.open(key, sealed, this.ttlMs)
      return opened.ok ? (JSON.parse(opened.text) as TelemetrySnapshot) : null
    } catch (err) {
      this.warnOnce(err)
      return null
    }
  }

  async forget(deviceId: string): Promise<void> {
    this.waiting.delete(deviceId)
    await this.redis.del(keyOf(deviceId)).catch((err) => this.warnOnce(err))
  }

  private async drain(deviceId: string): Promise<void> {
    this.writing.add(deviceId)
    try {
      for (let next = this.waiting.get(deviceId); next; next = this.waiting.get(deviceId)) {
        this.waiting.delete(deviceId)
        const key = keyOf(deviceId)
        await this.redis
          .set(key, this.seal.seal(key, JSON.stringify(next)), 'PX', this.ttlMs)
          .catch((err) => {
            this.warnOnce(err)
          })
      }
    } finally {
      this.writing.delete(deviceId)
    }
  }

  private warnOnce(err: unknown): void {
    if (this.warned) return
    this.warned = true
    this.onError(err)
  }
}
