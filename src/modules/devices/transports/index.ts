// Transport registry: a new transport is one new file plus one entry here.

import type { Scheme } from '../connection-string.js'
import { mqtt, mqttTransport } from './mqtt.js'
import { serial } from './serial.js'
import { sim } from './sim.js'
import { tcp, tcpTransport } from './tcp.js'
import type { ResolveAddress, TransportFactory } from './types.js'

export const transports: Record<Scheme, TransportFactory> = { serial, tcp, mqtt, sim }

/**
 * The registry with its network transports held to `resolveAddress` (the
 * outbound policy for one device): what the devices service connects with.
 * Serial and sim open nothing on the network.
 */
export function guardedTransports(resolveAddress: ResolveAddress): Record<Scheme, TransportFactory> {
  return { ...transports, tcp: tcpTransport(resolveAddress), mqtt: mqttTransport(resolveAddress) }
}

export type { ResolveAddress, Transport, TransportFactory } from './types.js'
export { TransportError } from './types.js'
