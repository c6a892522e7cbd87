// What the device-files area needs from the devices area, and the shapes a
// transfer is started with: kept apart from the service so the queue area and
// the restarts can name them without the service's internals.

import type { Principal } from '../../auth/principal.js'
import type { RestartPlan } from './restart.js'
import type { StreamSession } from './streamers/types.js'

/** The few parts of a device's open connection this area drives. */
export interface DeviceLink {
  readonly status: string
  readonly activeProtocol: { readonly name: string } | null
  exclusive<T>(work: (session: StreamSession) => Promise<T>): Promise<T>
}

/** What this area needs from the devices service. */
export interface DevicesPort {
  get(
    principal: Principal,
    id: string,
  ): Promise<{
    id: string
    name: string
    ownerId: string
    connectionString: string
    configuration: Record<string, unknown>
  }>
  connectionOf(id: string): DeviceLink | null
  /** The protocol the device speaks (its open connection's, else what its settings give). */
  protocolOf(device: { id: string; connectionString: string; configuration: Record<string, unknown> }): string
  /** What this node does on a device whose connection it has (a transfer's pause). */
  onHolder(method: string, handler: (params: unknown) => Promise<unknown>): void
  /** Runs onHolder's `method` on the node that has the device's connection (in a cluster, its holder). */
  atHolder(deviceId: string, method: string, params: unknown): Promise<unknown>
}

/** The device a transfer goes to, as the devices service answers it. */
export interface TransferDevice {
  id: string
  name: string
  ownerId: string
  connectionString: string
  configuration: Record<string, unknown>
}

/** A transfer that restarts an earlier job. */
export interface Restart {
  jobId: string
  plan: RestartPlan
  /** Written to the new job's log before anything is sent. */
  log: string
}
