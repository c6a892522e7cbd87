// What the devices area stores and what a device's connection reports.

import type { Readings } from './protocols/types.js'

export const DEVICE_STATUSES = ['disconnected', 'connecting', 'connected', 'error'] as const
export type DeviceStatus = (typeof DEVICE_STATUSES)[number]
export type LogDirection = 'in' | 'out' | 'info'

/** What a connection tells its owner; every method is optional. */
export interface ConnectionListener {
  status?(status: DeviceStatus, lastError: string | null): void
  /** The full current set of readings, not only what changed. */
  telemetry?(readings: Readings, at: Date): void
  log?(direction: LogDirection, line: string, at: Date): void
  firmwareVersion?(version: string): void
  /** Any inbound bytes (drives lastSeen). */
  traffic?(at: Date): void
  /** Something the operator should know that is not an error (a resync that could not confirm). */
  warning?(message: string): void
  /**
   * The connected device went silent or said it is offline (`stale` true, with why), or was
   * heard again (`stale` false). Not called when the link closes: the status says that.
   */
  availability?(stale: boolean, reason: string | null, at: Date): void
  /** The firmware stopped itself (GRBL `ALARM:N`, Marlin halt/kill); once per alarm, until it is cleared. */
  alarm?(message: string, at: Date): void
}

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
  /**
   * The node name that may hold the device's connection in a cluster (a serial port's host);
   * null: any node (docs/SCALE-OUT.md).
   */
  nodeAffinity: string | null
  /**
   * The open link has heard nothing for `availabilityTimeoutMs`, or an MQTT device said it is
   * offline. Known only to the live connection (never stored); absent on a row read alone.
   */
  stale?: boolean
  createdAt: Date
  updatedAt: Date
}

export interface TelemetrySample {
  ts: Date
  readings: Record<string, unknown>
}
