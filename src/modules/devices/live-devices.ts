// The devices that have an open (or opening) connection in this process: one
// DeviceConnection each, its reports written to the device row (status,
// lastError, firmwareVersion; lastSeen at most every lastSeenWriteIntervalMs),
// recent telemetry kept in memory, and bus events for the realtime feed.
// Opening checks the outbound policy first, so a refused device changes
// nothing.

import type { Expression, SqlBool } from 'kysely'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import { actingRole, OutboundDeniedError, type OutboundPolicy } from '../../net/outbound-policy.js'
import { DeviceConnection } from './connection.js'
import { type ConnectionTarget, parseConnectionString } from './connection-string.js'
import type { DevicePatch, DevicesRepository } from './repository.js'
import { guardedTransports } from './transports/index.js'
import type { ResolveAddress, TransportFactory } from './transports/types.js'
import type { ConnectionListener, Device, DeviceStatus, TelemetrySample } from './types.js'

export interface LiveDevicesOptions {
  repo: DevicesRepository
  bus: EventBus
  logger: Logger
  outbound: { policy: OutboundPolicy; roleOf(userId: string): Promise<string | undefined> }
  transports?: Record<string, TransportFactory>
  lastSeenWriteIntervalMs: number
  telemetryHistorySize: number
  /**
   * In a cluster: the condition every write of a connection's reports carries (its lease's
   * epoch fence), so a node that lost the device changes nothing. Absent: unguarded.
   */
  fence?: (deviceId: string) => Expression<SqlBool>
}

interface Live {
  connection: DeviceConnection
  ownerId: string
  lastSeen: Date | null
  lastSeenWrittenAt: number
  /** Device rows are written in order; a status never overtakes an earlier one. */
  writes: Promise<void>
}

/** What a telemetry WebSocket sends first. */
export interface DeviceSnapshot {
  status: DeviceStatus
  stale: boolean
  lastSeen: Date | null
  readings: Record<string, unknown> | null
}

export class LiveDevices {
  private readonly live = new Map<string, Live>()
  private readonly history = new Map<string, TelemetrySample[]>()

  constructor(private readonly options: LiveDevicesOptions) {}

  /** The open connection of a device, or null. */
  connectionOf(id: string): DeviceConnection | null {
    return this.live.get(id)?.connection ?? null
  }

  has(id: string): boolean {
    return this.live.has(id)
  }

  ids(): string[] {
    return [...this.live.keys()]
  }

  /** The row with what the open connection knows now (status, lastError, lastSeen, firmware). */
  withLive(device: Device): Device {
    const live = this.live.get(device.id)
    if (!live) return device
    return {
      ...device,
      status: live.connection.status,
      lastError: live.connection.lastError,
      lastSeen: live.lastSeen ?? device.lastSeen,
      firmwareVersion: live.connection.firmwareVersion ?? device.firmwareVersion,
      stale: live.connection.stale,
    }
  }

  /** What a telemetry WebSocket sends first. */
  snapshot(device: Device): DeviceSnapshot {
    const live = this.live.get(device.id)
    const last = this.history.get(device.id)?.at(-1)
    return {
      status: live?.connection.status ?? device.status,
      stale: live?.connection.stale ?? false,
      lastSeen: live?.lastSeen ?? device.lastSeen,
      readings: live ? live.connection.telemetry : (last?.readings ?? null),
    }
  }

  /** Recent telemetry snapshots, oldest first, at most `limit`. */
  recentTelemetry(id: string, limit: number): TelemetrySample[] {
    return (this.history.get(id) ?? []).slice(-limit)
  }

  forgetTelemetry(id: string): void {
    this.history.delete(id)
  }

  /**
   * Opens a device's link (already open: connects it again, a no-op when it
   * is). `callerRole` is who asked (undefined: the server itself, reopening
   * after a restart, which acts with the owner's role alone). `assertRunning`
   * throws when the server is shutting down; it is asked again after the
   * policy check's await, so a server shutting down opens nothing.
   */
  async open(
    device: Device,
    keepTrying: boolean,
    callerRole: string | undefined,
    assertRunning: () => void,
  ): Promise<void> {
    const existing = this.live.get(device.id)
    if (existing) {
      await existing.connection.connect()
      return
    }
    const target = parseConnectionString(device.connectionString, device.configuration)
    const resolveAddress = this.resolverFor(device, target, callerRole)
    // Refused before anything changes, so a refusal leaves status and desiredConnected as they were.
    // The transport checks again at each open (reconnects too) and connects to what it checked.
    await this.precheck(device, target, resolveAddress, keepTrying)
    // The check awaited the resolver: another connect (or stop) may have come in meanwhile.
    assertRunning()
    const raced = this.live.get(device.id)
    if (raced) {
      await raced.connection.connect()
      return
    }
    const live: Live = {
      connection: undefined as unknown as DeviceConnection,
      ownerId: device.ownerId,
      lastSeen: device.lastSeen,
      lastSeenWrittenAt: 0,
      writes: Promise.resolve(),
    }
    live.connection = new DeviceConnection({
      label: device.id,
      target,
      configuration: device.configuration,
      listener: this.listenerFor(device.id, live),
      transports: this.options.transports ?? guardedTransports(resolveAddress),
    })
    this.live.set(device.id, live)
    await this.report(device.id, { desiredConnected: true })
    try {
      await live.connection.connect({ keepTrying })
    } catch (err) {
      if (!keepTrying) {
        this.live.delete(device.id)
        await live.writes
        await this.report(device.id, { desiredConnected: false })
      }
      // The name resolved elsewhere between the precheck and the open: answer the refusal, not a 502.
      throw outboundDenial(err) ?? err
    }
  }

  /** Closes a device's connection (if open) and writes its last lastSeen. */
  async close(id: string): Promise<void> {
    const live = this.live.get(id)
    if (!live) return
    this.live.delete(id)
    await live.connection.disconnect()
    await live.writes
    if (live.lastSeen) await this.report(id, { lastSeen: live.lastSeen }).catch(() => {})
  }

  /** A write of what the connection reports (never touches updatedAt), fenced in a cluster. */
  private async report(id: string, patch: DevicePatch): Promise<void> {
    await this.options.repo.update(id, patch, false, this.options.fence?.(id))
  }

  /** The policy check a TCP or MQTT device's transport makes before each connect. */
  private resolverFor(device: Device, target: ConnectionTarget, callerRole?: string): ResolveAddress {
    const purpose = `${target.scheme} device`
    const { outbound } = this.options
    return async (host, port) => {
      // Read at each (re)connect: an owner demoted since is held to the policy from the next attempt.
      const ownerRole = await outbound.roleOf(device.ownerId)
      const role = callerRole === undefined ? actingRole(ownerRole) : actingRole(ownerRole, callerRole)
      return outbound.policy.resolve({ role, host, port, purpose })
    }
  }

  private async precheck(
    device: Device,
    target: ConnectionTarget,
    resolveAddress: ResolveAddress,
    keepTrying: boolean,
  ): Promise<void> {
    if (target.scheme !== 'tcp' && target.scheme !== 'mqtt') return
    try {
      await resolveAddress(target.host, target.port)
    } catch (err) {
      // A name that does not resolve now is the transport's to report (and to retry after a restart).
      if (!(err instanceof OutboundDeniedError)) return
      if (keepTrying) {
        // Reopening after a restart: show why on the device; desiredConnected stays, so allowing it and
        // restarting brings the device back.
        await this.report(device.id, { status: 'error', lastError: err.message })
        emitStatus(this.options.bus, { ...device, status: 'error', lastError: err.message })
      }
      throw err
    }
  }

  private listenerFor(id: string, live: Live): ConnectionListener {
    const { bus, logger } = this.options
    const write = (work: () => Promise<void>) => {
      live.writes = live.writes.then(work).catch((err: Error) => {
        logger.error({ deviceId: id, err: err.message }, 'device state write failed')
      })
    }
    return {
      status: (status, lastError) => {
        if (this.live.get(id) !== live) return
        write(() => this.report(id, { status, lastError }))
        bus.emit('device.status', {
          deviceId: id,
          ownerId: live.ownerId,
          status,
          lastSeen: live.lastSeen?.toISOString() ?? null,
          lastError,
          stale: live.connection.stale,
        })
        if (status === 'error') logger.warn({ deviceId: id, lastError }, 'device error')
      },
      telemetry: (readings, at) => {
        const samples = this.history.get(id) ?? []
        samples.push({ ts: at, readings })
        const size = this.options.telemetryHistorySize
        if (samples.length > size) samples.splice(0, samples.length - size)
        this.history.set(id, samples)
        bus.emit('device.telemetry', { deviceId: id, ownerId: live.ownerId, ts: at.toISOString(), readings })
      },
      log: (direction, line, at) => {
        bus.emit('device.log', { deviceId: id, ts: at.toISOString(), direction, line })
      },
      firmwareVersion: (version) => {
        write(() => this.report(id, { firmwareVersion: version }))
      },
      warning: (message) => logger.warn({ deviceId: id }, message),
      alarm: (message, at) => {
        if (this.live.get(id) !== live) return
        bus.emit('device.alarm', { deviceId: id, ownerId: live.ownerId, message, at: at.toISOString() })
      },
      availability: (stale, reason, at) => {
        if (this.live.get(id) !== live) return
        if (stale) logger.warn({ deviceId: id, reason }, 'device offline')
        else logger.info({ deviceId: id }, 'device online again')
        bus.emit('device.availability', {
          deviceId: id,
          ownerId: live.ownerId,
          stale,
          reason,
          at: at.toISOString(),
        })
      },
      traffic: (at) => {
        live.lastSeen = at
        if (at.getTime() - live.lastSeenWrittenAt < this.options.lastSeenWriteIntervalMs) return
        live.lastSeenWrittenAt = at.getTime()
        write(() => this.report(id, { lastSeen: at }))
      },
    }
  }
}

/** A device's status on the bus, from its row (for changes made without a connection). */
export function emitStatus(bus: EventBus, device: Device): void {
  bus.emit('device.status', {
    deviceId: device.id,
    ownerId: device.ownerId,
    status: device.status,
    lastSeen: device.lastSeen?.toISOString() ?? null,
    lastError: device.lastError,
  })
}

/** The policy refusal somewhere in a driver error's cause chain, if that is what it was. */
function outboundDenial(err: unknown): OutboundDeniedError | undefined {
  for (let e = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof OutboundDeniedError) return e
  }
  return undefined
}
