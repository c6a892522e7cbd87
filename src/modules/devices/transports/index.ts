// Transport registry: a new transport is one new file plus one entry here.

import type { Scheme } from '../connection-string.js'
import { mqtt } from './mqtt.js'
import { serial } from './serial.js'
import { sim } from './sim.js'
import { tcp } from './tcp.js'
import type { TransportFactory } from './types.js'

export const transports: Record<Scheme, TransportFactory> = { serial, tcp, mqtt, sim }

export type { Transport, TransportFactory } from './types.js'
export { TransportError } from './types.js'
