// A protocol is one firmware dialect: how a command goes on the wire and
// what each inbound line means. It never touches the transport; the
// connection actor applies what the protocol reports.

import type { ResolvedConfiguration } from '../configuration.js'

export interface CommandResult {
  /** false when the firmware answered with a failure (`error:N`, an alarm, `{"ok":false}`). */
  ok: boolean
  message: string
  /** Lines the firmware answered with, the completing line included. */
  response: string[]
  durationMs: number
}

export interface CommandOptions {
  timeoutMs?: number
  /** Periodic polls: keep them out of the log feed. */
  quiet?: boolean
}

export type Readings = Record<string, string | number | boolean | null>

export type ProtocolEvent =
  /** Completes the command in flight successfully; `response` replaces the collected lines. */
  | { kind: 'ok'; response?: string[] }
  /** Completes the command in flight with `ok: false` (the firmware refused it). */
  | { kind: 'fail'; message: string; response?: string[] }
  /** The line belongs to the answer of the command in flight. */
  | { kind: 'response' }
  /** The firmware is still working on the command: restart its timeout. */
  | { kind: 'busy' }
  /** Send again from this line number (Marlin `Resend:`). */
  | { kind: 'resend'; lineNumber: number }
  /** `report` marks a periodic report line that need not appear in the log feed. */
  | { kind: 'telemetry'; readings: Readings; report?: boolean }
  | { kind: 'firmware'; version: string }
  /** The firmware restarted (a banner mid-session): whatever was in flight is lost. */
  | { kind: 'reset'; message: string }
  /** The machine stopped itself (GRBL alarm, Marlin kill): fail the command, device to `error`. */
  | { kind: 'alarm'; message: string }
  | { kind: 'alarm-cleared' }
  /** A message-based far end says whether the device behind it is online (MQTT status/last-will). */
  | { kind: 'presence'; online: boolean }
  /** Swallowed on purpose (the `ok` that follows a `Resend:`). */
  | { kind: 'consumed' }

/** What a protocol may do through its connection during handshake and polling. */
export interface ProtocolSession {
  readonly config: ResolvedConfiguration
  command(text: string, options?: CommandOptions): Promise<CommandResult>
  writeRealtime(data: Buffer, options?: { quiet?: boolean }): Promise<void>
}

export interface RealtimeCommand {
  bytes: Buffer
  /** Answer with the next `report` telemetry line (GRBL `?`). */
  awaitsReport: boolean
}

/**
 * A command whose reply holds a line no other command produces. Without
 * correlation ids, a reply that arrives after its command timed out would be
 * taken as the next command's; after a timeout the connection sends this probe
 * first, drops every completion before the marker line, and takes the
 * completion after it as the probe's own (the firmware answers in order).
 */
export interface SyncProbe {
  command: string
  isMarker(line: string): boolean
  /**
   * Sent when the probe cannot confirm (no marker in time) before the link
   * waits for quiet and carries on: commands that put the firmware's own
   * bookkeeping back in step (Marlin `M110 N0` renumbers lines). Their replies
   * are drained with the rest.
   */
  fallback?: string[]
}

export interface Protocol {
  readonly name: string
  /** The wire text for one queued command, line ending included. */
  encode(command: string): string
  /** Classifies one inbound line (line ending removed); `pending` is the command in flight. */
  onLine(line: string, pending: string | null): ProtocolEvent[]
  /** Wire text to send again, from `lineNumber` on; empty when the protocol keeps no history. */
  resend?(lineNumber: number): string[]
  /** Bytes for a real-time command that bypasses the queue, or null for a normal command. */
  realtime?(command: string): RealtimeCommand | null
  /** The resync probe after `timedOut` timed out; absent where replies cannot be told apart (line, jsonl). */
  syncProbe?(timedOut: string): SyncProbe
  /** Runs after the link opens, before the device counts as connected. */
  handshake?(session: ProtocolSession): Promise<void>
  /** Starts periodic work once connected (status or temperature polls); returns its stopper. */
  start?(session: ProtocolSession): () => void
  /** Bytes the firmware can buffer (GRBL character counting); undefined where not known. */
  readonly rxBufferSize?: number
}

export type ProtocolFactory = (config: ResolvedConfiguration) => Protocol
