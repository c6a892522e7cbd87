// Builds the streamer a transfer drives: the device's own timeouts over the
// server's defaults, and for G-code a line source that a restart prefixes with
// its preamble and starts at the plan's line.

import type { BlobStore } from './blob-store.js'
import type { Restart, TransferDevice } from './ports.js'
import type { DeviceFile } from './repository.js'
import { type GcodeStreamerFactory, rawStreamer } from './streamers/index.js'
import { GcodeFileSource, type LineSource, ResumeSource } from './streamers/source.js'
import { DEFAULT_STALL_TIMEOUT_MS, type Streamer, type StreamerOptions } from './streamers/types.js'

export function transferStreamer(
  device: TransferDevice,
  file: DeviceFile,
  protocol: string,
  /** The protocol's G-code streamer, or null to send the file as raw bytes. */
  gcode: GcodeStreamerFactory | null,
  restart: Restart | undefined,
  server: { store: BlobStore; streamer: StreamerOptions },
): Streamer {
  const configured = device.configuration.stallTimeoutMs
  const timeouts = device.configuration.commandTimeouts
  const options: StreamerOptions = {
    ...server.streamer,
    // Validated when stored (devices/configuration.ts): command words to milliseconds.
    commandTimeouts:
      typeof timeouts === 'object' && timeouts !== null ? (timeouts as Record<string, number>) : {},
    stallTimeoutMs:
      typeof configured === 'number' ? configured : (DEFAULT_STALL_TIMEOUT_MS[protocol] ?? null),
  }
  if (!gcode) return rawStreamer(file, server.store, protocol, options)
  let source: LineSource = new GcodeFileSource(server.store.open(file.sha256))
  let lines = file.lineCount ?? 0
  if (restart) {
    source = new ResumeSource(restart.plan.preamble.lines, source, restart.plan.fromLine)
    lines = restart.plan.preamble.lines.length + restart.plan.remainingLines
  }
  return gcode(source, lines, file.sizeBytes, options)
}
