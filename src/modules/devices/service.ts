// The devices area's rules: CRUD with owner scoping, connect/disconnect and
// commands through the device's connection (live-devices.ts keeps those and
// what they report), and reopening wanted connections after a restart.

import { assertRole, ownerScope, type Principal, visibleOr404 } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import type { Database } from '../../db/types.js'
import { ConflictError } from '../../errors.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import { actingRole, OutboundDeniedError, OutboundPolicy } from '../../net/outbound-policy.js'
import { assertAffinityChangeable, notMeantToBeConnected } from './affinity.js'
import { defaultProtocolFor } from './configuration.js'
import type { DeviceConnection } from './connection.js'
import { type ConnectionTarget, parseConnectionString } from './connection-string.js'
import { checkDeviceInput, type DeviceInput } from './device-input.js'
import { DeviceNotConnectedError } from './errors.js'
import { type DeviceSnapshot, emitStatus, LiveDevices, type LiveDevicesOptions } from './live-devices.js'
import type { CommandResult } from './protocols/types.js'
import { DevicesRepository } from './repository.js'
import { REDACTED, validateCommand } from './schemas.js'
import { transports } from './transports/index.js'
import type { TransportFactory } from './transports/types.js'
import type { Device, TelemetrySample } from './types.js'

export type { DeviceInput } from './device-input.js'

export interface DevicesServiceOptions {
  db: Database
  bus: EventBus
  logger: Logger
  /** Replace transports (tests); defaults to the registry, its network transports held to `outbound`. */
  transports?: Record<string, TransportFactory>
  /**
   * Where TCP and MQTT devices may connect (docs/SECURITY.md, "Outbound
   * connections"), and each user's current role: a device connects with the
   * least of its owner's role and the caller's. Default: the safe default
   * policy, and no user counts as an admin.
   */
  outbound?: { policy: OutboundPolicy; roleOf(userId: string): Promise<string | undefined> }
  /** lastSeen follows every inbound byte in memory; the database gets it at most this often. */
  lastSeenWriteIntervalMs?: number
  /** Recent telemetry snapshots kept per device for GET /telemetry. */
  telemetryHistorySize?: number
  /** Lists serial ports; defaults to serialport's SerialPort.list(). */
  listPorts?: () => Promise<PortInfo[]>
  /** This node's name: a new serial device's default nodeAffinity (its port is on this host). */
  nodeName?: string
  /** In a cluster: the lease fence every write of a connection's reports carries (live-devices.ts). */
  fence?: LiveDevicesOptions['fence']
}

export interface PortInfo {
  path: string
  manufacturer?: string
  serialNumber?: string
  vendorId?: string
  productId?: string
}

/** What a node does on a device it holds for another area (a transfer's pause): see onHolder(). */
export type HolderHandler = (params: unknown) => Promise<unknown>

export class DevicesService {
  protected readonly repo: DevicesRepository
  protected readonly live: LiveDevices
  protected isStopped = false
  private readonly holderHandlers = new Map<string, HolderHandler>()
  private readonly outbound: NonNullable<DevicesServiceOptions['outbound']>

  constructor(protected readonly options: DevicesServiceOptions) {
    this.repo = new DevicesRepository(options.db)
    this.outbound = options.outbound ?? { policy: new OutboundPolicy(), roleOf: async () => undefined }
    this.live = new LiveDevices({
      repo: this.repo,
      bus: options.bus,
      logger: options.logger,
      outbound: this.outbound,
      transports: options.transports,
      lastSeenWriteIntervalMs: options.lastSeenWriteIntervalMs ?? 5000,
      telemetryHistorySize: options.telemetryHistorySize ?? 1000,
      fence: options.fence,
    })
  }

  // ---- CRUD -----------------------------------------------------------------

  async list(
    principal: Principal,
    page: { limit: number; offset: number },
  ): Promise<{ items: Device[]; total: number }> {
    const { items, total } = await this.repo.list(ownerScope(principal), page)
    return { items: items.map((d) => this.live.withLive(d)), total }
  }

  async get(principal: Principal, id: string): Promise<Device> {
    return this.live.withLive(visibleOr404(principal, await this.repo.get(id), 'device', id))
  }

  async create(principal: Principal, input: DeviceInput): Promise<Device> {
    assertRole(principal, 'operator', 'create devices')
    const fields = checkDeviceInput(input, true)
    // The owner is the caller: a literal address the caller may not reach is refused now, not at connect.
    this.checkLiteralTarget(principal.role, fields.target!)
    const now = new Date()
    const device: Device = {
      id: newId(),
      name: fields.name!,
      type: fields.type ?? 'generic',
      connectionString: fields.connectionString!,
      status: 'disconnected',
      lastSeen: null,
      firmwareVersion: null,
      configuration: fields.configuration,
      ownerId: principal.id,
      lastError: null,
      desiredConnected: false,
      // Absent: a serial port is on the creating node's host; a network or simulated device goes anywhere.
      nodeAffinity:
        input.nodeAffinity !== undefined
          ? input.nodeAffinity
          : fields.target!.scheme === 'serial'
            ? (this.options.nodeName ?? null)
            : null,
      createdAt: now,
      updatedAt: now,
    }
    await this.repo.insert(device)
    return device
  }

  /** Fields not given stay as they are. Changing how to reach a connected device needs a disconnect first. */
  async update(principal: Principal, id: string, input: DeviceInput): Promise<Device> {
    assertRole(principal, 'operator', 'change devices')
    const current = await this.get(principal, id)
    if (input.configuration?.password === REDACTED && typeof current.configuration.password === 'string') {
      // The API answers the password masked; sending the mask back keeps the stored one.
      input = {
        ...input,
        configuration: { ...input.configuration, password: current.configuration.password },
      }
    }
    const fields = checkDeviceInput(
      {
        ...input,
        // The pair is validated together: a bare path takes its baud from configuration.
        connectionString: input.connectionString ?? current.connectionString,
        configuration: input.configuration ?? current.configuration,
      },
      false,
    )
    if (input.connectionString !== undefined) {
      const ownerRole = await this.outbound.roleOf(current.ownerId)
      this.checkLiteralTarget(actingRole(ownerRole, principal.role), fields.target!)
    }
    const linkChanged =
      (input.connectionString !== undefined && input.connectionString !== current.connectionString) ||
      (input.configuration !== undefined &&
        JSON.stringify(input.configuration) !== JSON.stringify(current.configuration))
    const openAnywhere = await this.isOpenAnywhere(id)
    if (linkChanged && openAnywhere) {
      throw new ConflictError(
        `device ${id} is ${current.status}; disconnect it before changing connectionString or configuration`,
      )
    }
    // Sending the affinity it has (a console saving the whole form) is no change.
    const affinityChanged = input.nodeAffinity !== undefined && input.nodeAffinity !== current.nodeAffinity
    if (affinityChanged) assertAffinityChangeable(current, openAnywhere)
    const written = await this.repo.update(
      id,
      {
        name: input.name === undefined ? undefined : fields.name,
        type: input.type === undefined ? undefined : fields.type,
        connectionString: input.connectionString === undefined ? undefined : fields.connectionString,
        configuration: input.configuration === undefined ? undefined : fields.configuration,
        nodeAffinity: affinityChanged ? input.nodeAffinity : undefined,
      },
      true,
      // A held connection must never be left on a node its own affinity no longer allows.
      affinityChanged ? notMeantToBeConnected() : undefined,
    )
    if (!written && affinityChanged) {
      assertAffinityChangeable(await this.get(principal, id), false)
      throw new ConflictError(`device ${id} was connected while its nodeAffinity was written; try again`)
    }
    return this.get(principal, id)
  }

  async delete(principal: Principal, id: string): Promise<void> {
    assertRole(principal, 'operator', 'delete devices')
    const device = await this.get(principal, id)
    await this.live.close(id)
    await this.repo.delete(id)
    this.live.forgetTelemetry(id)
    this.options.bus.emit('device.deleted', { deviceId: id, ownerId: device.ownerId })
  }

  // ---- control --------------------------------------------------------------

  /** Opens the link; answers once it is open and the firmware greeted. Already connected: no-op. */
  async connect(principal: Principal, id: string): Promise<Device> {
    assertRole(principal, 'operator', 'connect devices')
    const device = await this.get(principal, id)
    await this.open(device, false, principal.role)
    return this.get(principal, id)
  }

  async disconnect(principal: Principal, id: string): Promise<Device> {
    assertRole(principal, 'operator', 'disconnect devices')
    await this.get(principal, id)
    await this.live.close(id)
    await this.repo.update(id, { desiredConnected: false, status: 'disconnected', lastError: null })
    emitStatus(this.options.bus, (await this.repo.get(id))!)
    return this.get(principal, id)
  }

  async command(principal: Principal, id: string, text: string, timeoutMs?: number): Promise<CommandResult> {
    assertRole(principal, 'operator', 'send device commands')
    validateCommand(text, timeoutMs)
    const device = await this.get(principal, id)
    const connection = this.live.connectionOf(id)
    if (!connection) throw new DeviceNotConnectedError(id, device.status)
    return connection.command(text, { timeoutMs })
  }

  /** Recent telemetry snapshots, oldest first, at most `limit`. */
  async telemetry(principal: Principal, id: string, limit: number): Promise<TelemetrySample[]> {
    await this.get(principal, id)
    return this.live.recentTelemetry(id, limit)
  }

  /** What a telemetry WebSocket sends first (in a cluster, from the holder's shared snapshot). */
  async snapshot(device: Device): Promise<DeviceSnapshot> {
    return this.live.snapshot(device)
  }

  /** A device's name and owner, for other areas naming it (notifications); undefined when it is gone. */
  async facts(id: string): Promise<{ name: string; ownerId: string } | undefined> {
    const device = await this.repo.get(id)
    return device ? { name: device.name, ownerId: device.ownerId } : undefined
  }

  /**
   * What this node does for `method` on a device whose connection it has: another area's
   * action on that connection (a transfer's pause, resume, cancel). Register before start.
   */
  onHolder(method: string, handler: HolderHandler): void {
    this.holderHandlers.set(method, handler)
  }

  /**
   * Runs `method`'s handler where the device's connection is: here on one instance; in a
   * cluster on the node holding the device (here when nobody does). The caller has checked
   * the caller's right to the device; `params` must be JSON.
   */
  atHolder(_deviceId: string, method: string, params: unknown): Promise<unknown> {
    return this.runHolderHandler(method, params)
  }

  protected runHolderHandler(method: string, params: unknown): Promise<unknown> {
    const handler = this.holderHandlers.get(method)
    if (!handler) throw new Error(`no device holder action ${method}`)
    return handler(params)
  }

  /** The open connection of a device (file streaming drives it), or null. */
  connectionOf(id: string): DeviceConnection | null {
    return this.live.connectionOf(id)
  }

  /**
   * The protocol a device speaks: its open connection's, else what its
   * transport pins (MQTT) or its configuration names (default: a simulator's
   * firmware, else line), as a connection would choose.
   */
  protocolOf(device: Pick<Device, 'id' | 'connectionString' | 'configuration'>): string {
    const active = this.live.connectionOf(device.id)?.activeProtocol
    if (active) return active.name
    const target = parseConnectionString(device.connectionString, device.configuration)
    const configured = device.configuration.protocol
    return (
      (this.options.transports ?? transports)[target.scheme]?.protocol ??
      (typeof configured === 'string' ? configured : defaultProtocolFor(target))
    )
  }

  async ports(): Promise<{ ports: PortInfo[]; reason: string | null }> {
    try {
      const list = this.options.listPorts ?? (await import('serialport')).SerialPort.list
      const ports = await list()
      return {
        ports: ports.map((p) => ({
          path: p.path,
          manufacturer: p.manufacturer,
          serialNumber: p.serialNumber,
          vendorId: p.vendorId,
          productId: p.productId,
        })),
        reason: null,
      }
    } catch (err) {
      // Without udev, serialport cannot enumerate (spawn udevadm ENOENT).
      return { ports: [], reason: `cannot list serial ports on this host: ${(err as Error).message}` }
    }
  }

  // ---- lifecycle ------------------------------------------------------------

  /** Reopens the connections that were meant to be open when the last process ended. */
  async start(): Promise<void> {
    await this.repo.resetStatuses()
    for (const device of await this.repo.listDesiredConnected()) void this.reopen(device)
  }

  /** Opens a device meant to be connected, retrying while it is unreachable; never rejects. */
  protected reopen(device: Device): Promise<void> {
    return this.open(device, true).catch((err: Error) => {
      this.options.logger.warn(
        { deviceId: device.id, err: err.message },
        err instanceof OutboundDeniedError
          ? 'device refused by the outbound policy after restart; not reopened'
          : 'device not reachable after restart; retrying',
      )
    })
  }

  async stop(): Promise<void> {
    this.isStopped = true
    // Stopping the server is not the operator disconnecting: desiredConnected stays.
    await Promise.all(this.live.ids().map((id) => this.live.close(id)))
  }

  // ---- internals ------------------------------------------------------------

  /** Whether the device's link is open (or opening) here; in a cluster, on any node. */
  protected async isOpenAnywhere(id: string): Promise<boolean> {
    return this.live.has(id)
  }

  /**
   * `callerRole` is who asked (undefined: the server itself, reopening after a
   * restart, which acts with the owner's role alone).
   */
  protected async open(device: Device, keepTrying: boolean, callerRole?: string): Promise<void> {
    const assertRunning = () => {
      if (this.isStopped) throw new ConflictError('the server is shutting down')
    }
    assertRunning()
    await this.live.open(device, keepTrying, callerRole, assertRunning)
  }

  /** Literal addresses (and names that always mean loopback or metadata) are refused at create and update. */
  private checkLiteralTarget(role: string | undefined, target: ConnectionTarget): void {
    if (target.scheme !== 'tcp' && target.scheme !== 'mqtt') return
    this.outbound.policy.checkLiteral(
      { role, host: target.host, port: target.port, purpose: `${target.scheme} device` },
      'connectionString',
    )
  }
}
