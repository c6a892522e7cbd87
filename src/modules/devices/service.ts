// The devices area's rules: CRUD with owner scoping, one DeviceConnection per
// connected device, persisted status/lastError/firmwareVersion, throttled
// lastSeen writes, recent telemetry kept in memory, bus events for the
// realtime feed, and reopening wanted connections after a restart.

import { assertRole, ownerScope, type Principal, visibleOr404 } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import type { Database } from '../../db/types.js'
import { ConflictError, collectErrors, type FieldError, ValidationError } from '../../errors.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import { actingRole, OutboundDeniedError, OutboundPolicy } from '../../net/outbound-policy.js'
import { validateConfiguration } from './configuration.js'
import { type ConnectionListener, DeviceConnection, validateCommand } from './connection.js'
import { type ConnectionTarget, parseConnectionString } from './connection-string.js'
import { DeviceNotConnectedError } from './errors.js'
import type { CommandResult } from './protocols/types.js'
import { DevicesRepository } from './repository.js'
import { guardedTransports } from './transports/index.js'
import type { ResolveAddress, TransportFactory } from './transports/types.js'
import type { Device, DeviceStatus, TelemetrySample } from './types.js'

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
}

export interface PortInfo {
  path: string
  manufacturer?: string
  serialNumber?: string
  vendorId?: string
  productId?: string
}

export interface DeviceInput {
  name?: string
  type?: string
  connectionString?: string
  configuration?: Record<string, unknown>
}

interface Live {
  connection: DeviceConnection
  ownerId: string
  lastSeen: Date | null
  lastSeenWrittenAt: number
  /** Device rows are written in order; a status never overtakes an earlier one. */
  writes: Promise<void>
}

export const MAX_NAME_LENGTH = 200
export const REDACTED = '********'

export class DevicesService {
  private readonly repo: DevicesRepository
  private readonly live = new Map<string, Live>()
  private readonly history = new Map<string, TelemetrySample[]>()
  private readonly lastSeenWriteIntervalMs: number
  private readonly historySize: number
  private isStopped = false
  private readonly outbound: NonNullable<DevicesServiceOptions['outbound']>

  constructor(private readonly options: DevicesServiceOptions) {
    this.repo = new DevicesRepository(options.db)
    this.outbound = options.outbound ?? { policy: new OutboundPolicy(), roleOf: async () => undefined }
    this.lastSeenWriteIntervalMs = options.lastSeenWriteIntervalMs ?? 5000
    this.historySize = options.telemetryHistorySize ?? 1000
  }

  // ---- CRUD -----------------------------------------------------------------

  async list(
    principal: Principal,
    page: { limit: number; offset: number },
  ): Promise<{ items: Device[]; total: number }> {
    const { items, total } = await this.repo.list(ownerScope(principal), page)
    return { items: items.map((d) => this.withLive(d)), total }
  }

  async get(principal: Principal, id: string): Promise<Device> {
    return this.withLive(visibleOr404(principal, await this.repo.get(id), 'device', id))
  }

  async create(principal: Principal, input: DeviceInput): Promise<Device> {
    assertRole(principal, 'operator', 'create devices')
    const fields = checkInput(input, true)
    // The owner is the caller: a literal address the caller may not reach is refused now, not at connect.
    this.checkLiteralTarget(principal.role, fields.connectionString!, fields.configuration)
    const now = new Date()
    const device: Device = {
      id: newId(),
      name: fields.name!,
      type: fields.type ?? 'generic',
      connectionString: fields.connectionString!,
      status: 'disconnected',
      lastSeen: null,
      firmwareVersion: null,
      configuration: fields.configuration ?? {},
      ownerId: principal.id,
      lastError: null,
      desiredConnected: false,
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
    const fields = checkInput(
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
      this.checkLiteralTarget(
        actingRole(ownerRole, principal.role),
        fields.connectionString!,
        fields.configuration,
      )
    }
    const linkChanged =
      (input.connectionString !== undefined && input.connectionString !== current.connectionString) ||
      (input.configuration !== undefined &&
        JSON.stringify(input.configuration) !== JSON.stringify(current.configuration))
    if (linkChanged && this.live.has(id)) {
      throw new ConflictError(
        `device ${id} is ${current.status}; disconnect it before changing connectionString or configuration`,
      )
    }
    await this.repo.update(id, {
      name: input.name === undefined ? undefined : fields.name,
      type: input.type === undefined ? undefined : fields.type,
      connectionString: input.connectionString === undefined ? undefined : fields.connectionString,
      configuration: input.configuration === undefined ? undefined : fields.configuration,
    })
    return this.get(principal, id)
  }

  async delete(principal: Principal, id: string): Promise<void> {
    assertRole(principal, 'operator', 'delete devices')
    const device = await this.get(principal, id)
    await this.closeLive(id)
    await this.repo.delete(id)
    this.history.delete(id)
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
    await this.closeLive(id)
    await this.repo.update(id, { desiredConnected: false, status: 'disconnected', lastError: null })
    this.emitStatus(id, (await this.repo.get(id))!)
    return this.get(principal, id)
  }

  async command(principal: Principal, id: string, text: string, timeoutMs?: number): Promise<CommandResult> {
    assertRole(principal, 'operator', 'send device commands')
    validateCommand(text, timeoutMs)
    const device = await this.get(principal, id)
    const live = this.live.get(id)
    if (!live) throw new DeviceNotConnectedError(id, device.status)
    return live.connection.command(text, { timeoutMs })
  }

  /** Recent telemetry snapshots, oldest first, at most `limit`. */
  async telemetry(principal: Principal, id: string, limit: number): Promise<TelemetrySample[]> {
    await this.get(principal, id)
    const samples = this.history.get(id) ?? []
    return samples.slice(-limit)
  }

  /** What a telemetry WebSocket sends first. */
  snapshot(device: Device): {
    status: DeviceStatus
    lastSeen: Date | null
    readings: Record<string, unknown> | null
  } {
    const live = this.live.get(device.id)
    const last = this.history.get(device.id)?.at(-1)
    return {
      status: live?.connection.status ?? device.status,
      lastSeen: live?.lastSeen ?? device.lastSeen,
      readings: live ? live.connection.telemetry : (last?.readings ?? null),
    }
  }

  /** The open connection of a device (file streaming drives it), or null. */
  connectionOf(id: string): DeviceConnection | null {
    return this.live.get(id)?.connection ?? null
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
    for (const device of await this.repo.listDesiredConnected()) {
      this.open(device, true).catch((err: Error) => {
        this.options.logger.warn(
          { deviceId: device.id, err: err.message },
          err instanceof OutboundDeniedError
            ? 'device refused by the outbound policy after restart; not reopened'
            : 'device not reachable after restart; retrying',
        )
      })
    }
  }

  async stop(): Promise<void> {
    this.isStopped = true
    const ids = [...this.live.keys()]
    // Stopping the server is not the operator disconnecting: desiredConnected stays.
    await Promise.all(ids.map((id) => this.closeLive(id)))
  }

  // ---- internals ------------------------------------------------------------

  /**
   * `callerRole` is who asked (undefined: the server itself, reopening after a
   * restart, which acts with the owner's role alone).
   */
  private async open(device: Device, keepTrying: boolean, callerRole?: string): Promise<void> {
    if (this.isStopped) throw new ConflictError('the server is shutting down')
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
    if (this.isStopped) throw new ConflictError('the server is shutting down')
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
    await this.repo.update(device.id, { desiredConnected: true }, false)
    try {
      await live.connection.connect({ keepTrying })
    } catch (err) {
      if (!keepTrying) {
        this.live.delete(device.id)
        await live.writes
        await this.repo.update(device.id, { desiredConnected: false }, false)
      }
      // The name resolved elsewhere between the precheck and the open: answer the refusal, not a 502.
      throw outboundDenial(err) ?? err
    }
  }

  /** The policy check a TCP or MQTT device's transport makes before each connect. */
  private resolverFor(device: Device, target: ConnectionTarget, callerRole?: string): ResolveAddress {
    const purpose = `${target.scheme} device`
    return async (host, port) => {
      // Read at each (re)connect: an owner demoted since is held to the policy from the next attempt.
      const ownerRole = await this.outbound.roleOf(device.ownerId)
      const role = callerRole === undefined ? actingRole(ownerRole) : actingRole(ownerRole, callerRole)
      return this.outbound.policy.resolve({ role, host, port, purpose })
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
        await this.repo.update(device.id, { status: 'error', lastError: err.message }, false)
        this.emitStatus(device.id, { ...device, status: 'error', lastError: err.message })
      }
      throw err
    }
  }

  private async closeLive(id: string): Promise<void> {
    const live = this.live.get(id)
    if (!live) return
    this.live.delete(id)
    await live.connection.disconnect()
    await live.writes
    if (live.lastSeen) await this.repo.update(id, { lastSeen: live.lastSeen }, false).catch(() => {})
  }

  /** Literal addresses (and names that always mean loopback or metadata) are refused at create and update. */
  private checkLiteralTarget(
    role: string | undefined,
    connectionString: string,
    configuration: Record<string, unknown> | undefined,
  ): void {
    const target = parseConnectionString(connectionString, configuration)
    if (target.scheme !== 'tcp' && target.scheme !== 'mqtt') return
    this.outbound.policy.checkLiteral(
      { role, host: target.host, port: target.port, purpose: `${target.scheme} device` },
      'connectionString',
    )
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
        write(() => this.repo.update(id, { status, lastError }, false))
        bus.emit('device.status', {
          deviceId: id,
          ownerId: live.ownerId,
          status,
          lastSeen: live.lastSeen?.toISOString() ?? null,
          lastError,
        })
        if (status === 'error') logger.warn({ deviceId: id, lastError }, 'device error')
      },
      telemetry: (readings, at) => {
        const samples = this.history.get(id) ?? []
        samples.push({ ts: at, readings })
        if (samples.length > this.historySize) samples.splice(0, samples.length - this.historySize)
        this.history.set(id, samples)
        bus.emit('device.telemetry', { deviceId: id, ownerId: live.ownerId, ts: at.toISOString(), readings })
      },
      log: (direction, line, at) => {
        bus.emit('device.log', { deviceId: id, ts: at.toISOString(), direction, line })
      },
      firmwareVersion: (version) => {
        write(() => this.repo.update(id, { firmwareVersion: version }, false))
      },
      warning: (message) => logger.warn({ deviceId: id }, message),
      traffic: (at) => {
        live.lastSeen = at
        if (at.getTime() - live.lastSeenWrittenAt < this.lastSeenWriteIntervalMs) return
        live.lastSeenWrittenAt = at.getTime()
        write(() => this.repo.update(id, { lastSeen: at }, false))
      },
    }
  }

  private withLive(device: Device): Device {
    const live = this.live.get(device.id)
    if (!live) return device
    return {
      ...device,
      status: live.connection.status,
      lastError: live.connection.lastError,
      lastSeen: live.lastSeen ?? device.lastSeen,
      firmwareVersion: live.connection.firmwareVersion ?? device.firmwareVersion,
    }
  }

  private emitStatus(id: string, device: Device): void {
    this.options.bus.emit('device.status', {
      deviceId: id,
      ownerId: device.ownerId,
      status: device.status,
      lastSeen: device.lastSeen?.toISOString() ?? null,
      lastError: device.lastError,
    })
  }
}

/**
 * The rules the route schema does not express (configuration keys, the
 * connection string), for a body the schema refused: so one answer lists both.
 */
export function deviceRuleErrors(body: {
  connectionString?: unknown
  configuration?: unknown
}): FieldError[] {
  const errors: FieldError[] = []
  const configuration = collectErrors(errors, 'configuration', () =>
    validateConfiguration(body.configuration),
  )
  if (body.connectionString !== undefined) {
    collectErrors(errors, 'connectionString', () =>
      parseConnectionString(body.connectionString, configuration ?? (body.configuration as object)),
    )
  }
  return errors
}

/** Validates create/update fields; the connection string is checked against the configuration's baud. */
function checkInput(input: DeviceInput, isCreate: boolean): DeviceInput {
  const errors: { path: string; message: string }[] = []
  const name = input.name?.trim()
  if (isCreate && !name) errors.push({ path: 'name', message: 'name is required' })
  if (input.name !== undefined && !name) errors.push({ path: 'name', message: 'name must not be empty' })
  if (isCreate && input.connectionString === undefined) {
    errors.push({ path: 'connectionString', message: 'connectionString is required' })
  }
  const configuration = collectErrors(
    errors,
    'configuration',
    () => validateConfiguration(input.configuration) as Record<string, unknown>,
  )
  if (input.connectionString !== undefined) {
    // Checked also when the configuration is not: both problems are reported.
    collectErrors(errors, 'connectionString', () =>
      parseConnectionString(input.connectionString as string, configuration ?? input.configuration),
    )
  }
  if (errors.length > 0 || configuration === undefined) {
    throw new ValidationError(errors.map((e) => e.message).join('; '), errors)
  }
  return { ...input, name, type: input.type?.trim() || undefined, configuration }
}

/** The policy refusal somewhere in a driver error's cause chain, if that is what it was. */
function outboundDenial(err: unknown): OutboundDeniedError | undefined {
  for (let e = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof OutboundDeniedError) return e
  }
  return undefined
}
