import type { DeviceStatus } from './connection.js'

export type { DeviceStatus } from './connection.js'
export { DEVICE_STATUSES } from './connection.js'

export interface Device {
  id: string
  name: string
  type: string
  connectionString: string
  status: DeviceStatus
  lastSeen: Date | null
  firmwareVersion: string | null
  configuration: Record<string, unknown>
  ownerId: string
  lastError: string | null
  /** The operator asked for the link to be open: it is reopened after a restart. */
  desiredConnected: boolean
  createdAt: Date
  updatedAt: Date
}

export interface TelemetrySample {
  ts: Date
  readings: Record<string, unknown>
}
