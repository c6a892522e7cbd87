// A streamer sends one file to a device while holding its wire. It is built
// per transfer and keeps its place in the file, so a paused transfer gives the
// wire back and a resumed one carries on where it stopped.

import type { PreparedLine } from '../../firmware/gcode.js'

/** The few parts of the device connection's exclusive session a streamer uses. */
export interface StreamEvent {
  kind: string
  message?: string
  lineNumber?: number
  /** A telemetry event's readings (GRBL's status report: `state`, positions...). */
  readings?: Record<string, unknown>
}

export interface StreamCommandResult {
  ok: boolean
  message: string
  response: string[]
}

export interface StreamSession {
  readonly protocol: { readonly name: string; readonly rxBufferSize?: number }
  command(text: string, options?: { timeoutMs?: number; quiet?: boolean }): Promise<StreamCommandResult>
  /** `logLines` go to the device's log feed, one entry each. */
  write(data: Buffer, logLines?: string | readonly string[]): Promise<void>
  onLine(listener: (line: string, events: StreamEvent[]) => void): () => void
  onClose(listener: (reason: Error) => void): () => void
  readonly queuedCount: number
  runQueued(): Promise<void>
}

/** Where a transfer stands; `details` of its job are built from this. */
export interface TransferProgress {
  /** Lines that go on the wire (G-code); null for raw files. */
  totalLines: number | null
  totalBytes: number
  linesSent: number
  linesAcknowledged: number
  bytesSent: number
  bytesAcknowledged: number
  resends: number
  /** The last line the firmware acknowledged: its number in the file and its text. */
  lastAcknowledged: { line: number; text: string } | null
  errors: string[]
}

export function newProgress(totalLines: number | null, totalBytes: number): TransferProgress {
  return {
    totalLines,
    totalBytes,
    linesSent: 0,
    linesAcknowledged: 0,
    bytesSent: 0,
    bytesAcknowledged: 0,
    resends: 0,
    lastAcknowledged: null,
    errors: [],
  }
}

export interface StreamControl {
  /** A pause or cancel was asked for: stop at the next line boundary. */
  shouldStop(): boolean
  /** The progress changed. */
  progressed(): void
  /** The firmware acknowledged this line (G-code streamers, in file order), before progressed(). */
  acknowledged(line: PreparedLine): void
  /** The stream stopped moving (see stall.ts); the streamer has queried the firmware. */
  stalled(message: string): void
}

export type StreamOutcome = 'done' | 'stopped'

export interface Streamer {
  readonly progress: TransferProgress
  /**
   * Sends until the file ends or control.shouldStop(); resolves once every
   * line sent is acknowledged. Rejects with a TransferError.
   */
  run(session: StreamSession, control: StreamControl): Promise<StreamOutcome>
  /** Releases the file (idempotent). */
  close(): void
}

export interface StreamerOptions {
  /** How long one line may wait for its acknowledgement (busy/status lines extend it). */
  lineTimeoutMs: number
  /**
   * The device's `configuration.commandTimeouts`: per command word, merged over
   * the long-running defaults (firmware/command-timeouts.ts); `default` replaces lineTimeoutMs for G-code lines.
   */
  commandTimeouts: Readonly<Record<string, number>>
  /** Keep streamed lines out of the device's log feed. */
  quiet: boolean
  /** No acknowledgement and no busy status for this long with lines outstanding is a stall; null: off. */
  stallTimeoutMs: number | null
}

export const DEFAULT_STREAMER_OPTIONS: StreamerOptions = {
  lineTimeoutMs: 60_000,
  commandTimeouts: {},
  quiet: false,
  stallTimeoutMs: null,
}

/** Stall timeouts by protocol, when the device's configuration sets none. */
export const DEFAULT_STALL_TIMEOUT_MS: Record<string, number> = { grbl: 10_000, marlin: 20_000 }
