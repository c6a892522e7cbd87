// The devices service of a node in a cluster (docs/SCALE-OUT.md, "Devices").
// A connected device is held by one node through a lease ('device', id): that
// node has its connection, and only its reports reach the device row (each
// write fenced by the lease's epoch). connect, disconnect, command and delete
// arriving at another node are routed to the holder (src/cluster/placement.ts)
// and answered with its result, so a second node never opens a second
// connection. A node that loses a lease closes that connection at once (the
// lease manager tells it before the lease can lapse when it cannot renew).
// Every renewal interval a node takes the devices meant to be connected that
// nobody holds and it may hold (a lost peer's unpinned devices, its own after
// a restart), and reports `node lost` on those pinned to a node that is gone:
// it never opens them itself, the port is on that node's host.

import type { Redis } from 'ioredis'
import { type Expression, type SqlBool, sql } from 'kysely'
import { assertRole, type Principal } from '../../auth/principal.js'
import type { ClusterNode } from '../../cluster/index.js'
import type { Lease, LeaseManager } from '../../cluster/leases.js'
import type { MessageSeal } from '../../cluster/message-seal.js'
import { ResourceRouter } from '../../cluster/placement.js'
import { Reconciler } from '../../cluster/reconciler.js'
import type { NodeRpc } from '../../cluster/rpc.js'
import { withDates } from '../../cluster/wire-dates.js'
import { resolveConfiguration } from './configuration.js'
import type { DeviceSnapshot } from './live-devices.js'
import { emitStatus } from './live-devices.js'
import type { CommandResult } from './protocols/types.js'
import { DevicesService, type DevicesServiceOptions, type HolderHandler } from './service.js'
import { SharedTelemetrySnapshots } from './telemetry-snapshots.js'
import type { Device, TelemetrySample } from './types.js'

type Op = 'connect' | 'disconnect' | 'command' | 'delete'

interface Forwarded {
  principal: Principal
  id: string
  text?: string
  timeoutMs?: number
}

/** The lease kind of a connected device. */
export const DEVICE_LEASE = 'device'

/** How long a device's last telemetry stays readable after its last reading. */
const SNAPSHOT_TTL_MS = 60 * 60 * 1000
/** The holder's method answering a device's recent readings. */
const RECENT_TELEMETRY = 'telemetry.recent'

const ROLE_NEED: Record<Op, string> = {
  connect: 'connect devices',
  disconnect: 'disconnect devices',
  command: 'send device commands',
  delete: 'delete devices',
}

export type ClusterWithLeases = ClusterNode & {
  leases: LeaseManager
  rpc: NodeRpc
  redis: Redis
  seal: MessageSeal
}

export class ClusteredDevicesService extends DevicesService {
  private readonly leases: LeaseManager
  private readonly router: ResourceRouter
  private readonly snapshots: SharedTelemetrySnapshots
  /** The last lease held per device: a report written after it was lost carries its stale epoch and is refused. */
  private readonly lastLease = new Map<string, Lease>()
  private offTelemetry: (() => void) | null = null
  private readonly reconciler: Reconciler

  constructor(
    options: DevicesServiceOptions,
    private readonly cluster: ClusterWithLeases,
  ) {
    const fence = (deviceId: string): Expression<SqlBool> => {
      const lease = this.lastLease.get(deviceId)
      // No lease was ever held here: this node has no say over the device's state.
      return lease ? this.leases.fenceExpression(lease) : sql<SqlBool>`1 = 0`
    }
    super({ ...options, nodeName: cluster.node.name, fence })
    this.leases = cluster.leases
    this.router = new ResourceRouter(cluster)
    this.reconciler = new Reconciler(
      () => this.takeUnheld(),
      cluster.renewIntervalMs,
      (err) => this.options.logger.warn({ err }, 'device reconciliation failed'),
    )
    this.snapshots = new SharedTelemetrySnapshots(cluster.redis, cluster.seal, SNAPSHOT_TTL_MS, (err) =>
      this.options.logger.warn({ err }, 'cluster: device telemetry snapshots unavailable in Redis'),
    )
    this.leases.onLost(DEVICE_LEASE, async (lease, reason) => {
      this.options.logger.warn(
        { deviceId: lease.id, reason },
        'lost the lease on a connected device; closing its connection here',
      )
      await this.live.close(lease.id)
    })
    for (const op of Object.keys(ROLE_NEED) as Op[]) {
      cluster.rpc.handle(`devices.${op}`, (params) => this.act(op, params as Forwarded, true))
    }
    // The readings history lives in the holder's memory: any node answers with the holder's.
    this.onHolder(RECENT_TELEMETRY, async (p) => {
      const { id, limit } = p as { id: string; limit: number }
      return this.live.recentTelemetry(id, limit)
    })
  }

  override async telemetry(principal: Principal, id: string, limit: number): Promise<TelemetrySample[]> {
    await this.get(principal, id)
    const samples = (await this.routeToHolder(
      id,
      RECENT_TELEMETRY,
      { id, limit },
      false,
    )) as TelemetrySample[]
    return samples.map((s) => withDates(s, ['ts']))
  }

  override async connect(principal: Principal, id: string): Promise<Device> {
    return (await this.act('connect', { principal, id }, false)) as Device
  }

  override async disconnect(principal: Principal, id: string): Promise<Device> {
    return (await this.act('disconnect', { principal, id }, false)) as Device
  }

  override async command(
    principal: Principal,
    id: string,
    text: string,
    timeoutMs?: number,
  ): Promise<CommandResult> {
    return (await this.act('command', { principal, id, text, timeoutMs }, false)) as CommandResult
  }

  override async delete(principal: Principal, id: string): Promise<void> {
    await this.act('delete', { principal, id }, false)
  }

  override onHolder(method: string, handler: HolderHandler): void {
    super.onHolder(method, handler)
    this.cluster.rpc.handle(`devices.at.${method}`, (p) => {
      const { deviceId, params } = p as { deviceId: string; params: unknown }
      return this.routeToHolder(deviceId, method, params, true)
    })
  }

  override atHolder(deviceId: string, method: string, params: unknown): Promise<unknown> {
    return this.routeToHolder(deviceId, method, params, false)
  }

  override async snapshot(device: Device): Promise<DeviceSnapshot> {
    const here = await super.snapshot(device)
    if (this.live.has(device.id)) return here
    // Held elsewhere (or nowhere): the row has the holder's status, Redis its last readings.
    const shared = await this.snapshots.get(device.id)
    return { ...here, readings: shared?.readings ?? here.readings }
  }

  override async start(): Promise<void> {
    const peers = (await this.cluster.membership.live()).filter((n) => n.id !== this.cluster.node.id)
    // Statuses a previous process wrote mean nothing now, unless a live peer may have written them.
    if (peers.length === 0) await this.repo.resetStatuses()
    // Node-local: only the holder hears its devices' readings, and it alone writes the snapshot.
    this.offTelemetry = this.options.bus.on('device.telemetry', (e) =>
      this.snapshots.put(e.deviceId, { ts: e.ts, readings: e.readings }),
    )
    await this.reconciler.run()
    this.reconciler.schedule()
  }

  override async stop(): Promise<void> {
    await this.reconciler.stop()
    this.offTelemetry?.()
    // Closes the connections with their leases still held, so the last reports land; the
    // cluster releases the leases afterwards and a peer may take the unpinned devices.
    await super.stop()
  }

  protected override async isOpenAnywhere(id: string): Promise<boolean> {
    return this.live.has(id) || (await this.leases.holder(DEVICE_LEASE, id)) !== null
  }

  /** One action, here under the lease or at the holder; a forwarded one never travels again. */
  private async act(op: Op, p: Forwarded, forwarded: boolean): Promise<unknown> {
    assertRole(p.principal, 'operator', ROLE_NEED[op])
    const device = await this.get(p.principal, p.id)
    const routed = await this.router.route({
      kind: DEVICE_LEASE,
      id: p.id,
      what: `device ${p.id}`,
      affinity: device.nodeAffinity,
      takes: op === 'connect',
      method: `devices.${op}`,
      params: p,
      forwarded,
      timeoutMs: this.forwardTimeoutMs(op, device, p.timeoutMs),
      local: (lease) => this.here(op, p, lease),
    })
    if (routed.where === 'here') return routed.value
    return op === 'connect' || op === 'disconnect'
      ? withDates(routed.value as Device, ['lastSeen', 'createdAt', 'updatedAt'])
      : routed.value
  }

  private async here(op: Op, p: Forwarded, lease: Lease | null): Promise<unknown> {
    if (lease) this.lastLease.set(p.id, lease)
    switch (op) {
      case 'connect':
        try {
          return await super.connect(p.principal, p.id)
        } finally {
          // A connect that failed leaves no lease behind (nothing is open here).
          if (!this.live.has(p.id)) await this.letGo(p.id)
        }
      case 'disconnect': {
        const device = await super.disconnect(p.principal, p.id)
        await this.letGo(p.id)
        return device
      }
      case 'command':
        return super.command(p.principal, p.id, p.text ?? '', p.timeoutMs)
      case 'delete':
        await super.delete(p.principal, p.id)
        await this.letGo(p.id)
        await this.snapshots.forget(p.id)
        return null
    }
  }

  /** Another area's action on a device's connection, on the node that has it (or here when none does). */
  private async routeToHolder(
    deviceId: string,
    method: string,
    params: unknown,
    forwarded: boolean,
  ): Promise<unknown> {
    const device = await this.repo.get(deviceId)
    const routed = await this.router.route({
      kind: DEVICE_LEASE,
      id: deviceId,
      what: `device ${deviceId}`,
      affinity: device?.nodeAffinity ?? null,
      takes: false,
      method: `devices.at.${method}`,
      params: { deviceId, params },
      forwarded,
      local: () => this.runHolderHandler(method, params),
    })
    return routed.value
  }

  /** Gives the lease up after the connection here was closed (no-op when none is held). */
  private async letGo(id: string): Promise<void> {
    await this.leases.release(DEVICE_LEASE, id)
    this.lastLease.delete(id)
  }

  /** A forwarded action waits for the holder as long as the action itself may take, plus the rpc deadline. */
  private forwardTimeoutMs(op: Op, device: Device, commandTimeoutMs?: number): number | undefined {
    if (op !== 'connect' && op !== 'command') return undefined
    const config = resolveConfiguration(device.configuration, 'line')
    const own =
      op === 'command'
        ? (commandTimeoutMs ?? config.commandTimeoutMs)
        : config.connectTimeoutMs + config.commandTimeoutMs
    return this.cluster.rpcTimeoutMs + own
  }

  /** Takes the wanted devices nobody holds that this node may hold; reports `node lost` on the others. */
  private async takeUnheld(): Promise<void> {
    const wanted = (await this.repo.listDesiredConnected()).filter(
      (d) => !this.leases.holding(DEVICE_LEASE, d.id),
    )
    const unheld = new Set(
      await this.leases.unheldOf(
        DEVICE_LEASE,
        wanted.map((d) => d.id),
      ),
    )
    let liveNames: Set<string> | null = null
    for (const device of wanted) {
      if (this.reconciler.stopping) return
      if (!unheld.has(device.id)) continue
      if (this.router.eligible(device.nodeAffinity)) {
        await this.take(device)
        continue
      }
      liveNames ??= new Set(
        (await this.cluster.membership.live()).filter((n) => n.clustered).map((n) => n.name),
      )
      if (!liveNames.has(device.nodeAffinity ?? '')) await this.reportNodeLost(device)
    }
  }

  private async take(device: Device): Promise<void> {
    try {
      const lease = await this.leases.acquire(DEVICE_LEASE, device.id, device.nodeAffinity)
      if (!lease) return // a peer was quicker
      this.lastLease.set(device.id, lease)
      this.options.logger.info(
        { deviceId: device.id, node: this.cluster.node.name, epoch: lease.epoch },
        'took a device nobody held; opening it',
      )
      // Keeps trying while unreachable, as after a restart; the lease stays here meanwhile, so a
      // connect through any node reaches this one. Refused by the outbound policy: it stays held
      // (the holder answers for it) until the operator disconnects it.
      void this.reopen(device)
    } catch (err) {
      this.options.logger.warn({ deviceId: device.id, err }, 'could not take over device')
    }
  }

  /** A pinned device whose node is gone: said once, by whichever live node gets there first. */
  private async reportNodeLost(device: Device): Promise<void> {
    const lastError = `node lost: node "${device.nodeAffinity}" (the device's nodeAffinity) is not running`
    if (device.status === 'error' && device.lastError === lastError) return
    const guard = sql<SqlBool>`${this.leases.unheldExpression(DEVICE_LEASE, device.id)}
      and not (status = 'error' and coalesce(last_error, '') = ${lastError})`
    const written = await this.repo.update(device.id, { status: 'error', lastError }, false, guard)
    if (!written) return
    this.options.logger.warn({ deviceId: device.id, node: device.nodeAffinity }, lastError)
    emitStatus(this.options.bus, { ...device, status: 'error', lastError })
  }
}
