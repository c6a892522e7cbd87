// What a connection knows about its device, and tells its owner as it
// changes: the status and its error, the firmware version, the readings (always
// the full current set), the log feed, and whether the firmware is in alarm or
// the far end says the device is offline. Lines change it through the events
// the protocol reads in them.

import type { ProtocolEvent, Readings } from './protocols/types.js'
import type { ConnectionListener, DeviceStatus, LogDirection } from './types.js'

/** The events that say something about the device rather than answer a command. */
export type DeviceEvent = Extract<
  ProtocolEvent,
  { kind: 'telemetry' | 'firmware' | 'alarm' | 'alarm-cleared' | 'presence' }
>

export class DeviceState {
  private currentStatus: DeviceStatus = 'disconnected'
  private currentError: string | null = null
  private firmware: string | null = null
  private readings: Readings = {}
  /** The firmware stopped itself: commands still go out (to clear it) though the status is error. */
  isAlarmed = false
  /** The far end (an MQTT device's status) says the device is offline. */
  isRemoteOffline = false
  /** Offline while the link is open: silent past its availability timeout, or said so (MQTT). */
  private isStale = false

  constructor(private readonly listener: ConnectionListener) {}

  get status(): DeviceStatus {
    return this.currentStatus
  }

  get stale(): boolean {
    return this.isStale
  }

  get lastError(): string | null {
    return this.currentError
  }

  get firmwareVersion(): string | null {
    return this.firmware
  }

  /** A copy of the current readings. */
  get telemetry(): Readings {
    return { ...this.readings }
  }

  setStatus(status: DeviceStatus, lastError: string | null): void {
    if (status === this.currentStatus && lastError === this.currentError) return
    this.currentStatus = status
    this.currentError = lastError
    this.listener.status?.(status, lastError)
  }

  /** A new link: no alarm, no offline report yet. */
  linkOpened(): void {
    this.isAlarmed = false
    this.isRemoteOffline = false
    this.isStale = false
  }

  /** The link closed: the status says what the device is now, so staleness is dropped without a word. */
  linkClosed(): void {
    this.isStale = false
  }

  /** Offline (with why) or back; the owner hears each change once. */
  setStale(stale: boolean, reason: string | null): void {
    if (stale === this.isStale) return
    this.isStale = stale
    this.listener.availability?.(stale, stale ? reason : null, new Date())
  }

  /** The handshake is done: connected, unless the far end already said the device is offline. */
  handshakeDone(): void {
    this.setStatus(
      this.isRemoteOffline ? 'connecting' : 'connected',
      this.isRemoteOffline ? 'the device reports it is offline' : null,
    )
  }

  /** `link` says whether the link is open, and whether an open is still in progress. */
  apply(event: DeviceEvent, link: { isOpen: boolean; isConnecting: boolean }): void {
    switch (event.kind) {
      case 'telemetry':
        this.readings = { ...this.readings, ...event.readings }
        this.listener.telemetry?.({ ...this.readings }, new Date())
        return
      case 'firmware':
        if (this.firmware === event.version) return
        this.firmware = event.version
        this.listener.firmwareVersion?.(event.version)
        return
      case 'alarm':
        if (!this.isAlarmed) this.listener.alarm?.(event.message, new Date())
        this.isAlarmed = true
        if (link.isOpen) this.setStatus('error', event.message)
        return
      case 'alarm-cleared':
        this.isAlarmed = false
        if (link.isOpen && this.currentStatus === 'error') this.setStatus('connected', null)
        return
      case 'presence':
        this.isRemoteOffline = !event.online
        // The device's own word (a last-will): offline now, not after the availability timeout.
        if (link.isOpen) this.setStale(!event.online, 'the device reports it is offline')
        if (!link.isOpen || link.isConnecting) return
        if (event.online) this.setStatus('connected', null)
        else this.setStatus('connecting', 'the device reports it is offline')
        return
    }
  }

  /** Any inbound bytes (drives lastSeen); a silent device is back, unless it said it is offline. */
  traffic(): void {
    if (this.isStale && !this.isRemoteOffline) this.setStale(false, null)
    this.listener.traffic?.(new Date())
  }

  log(direction: LogDirection, line: string): void {
    this.listener.log?.(direction, line, new Date())
  }

  /** To the operator's log (the service's logger) and the device's log feed. */
  warn(message: string): void {
    this.log('info', `warning: ${message}`)
    this.listener.warning?.(message)
  }
}
