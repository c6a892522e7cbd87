// How a file goes on the wire for each protocol; a new protocol is one entry.
// G-code goes through its firmware's streamer, from a line source (the file,
// or a restart's preamble and the rest of the file); anything else is raw.

import { randomUUID } from 'node:crypto'
import { GrblStreamer } from '../../firmware/grbl/streamer.js'
import { MarlinStreamer } from '../../firmware/marlin/streamer.js'
import type { BlobStore } from '../blob-store.js'
import type { DeviceFile } from '../repository.js'
import { RawStreamer } from './raw.js'
import type { LineSource } from './source.js'
import { RawFileSource } from './source.js'
import type { Streamer, StreamerOptions } from './types.js'

export type GcodeStreamerFactory = (
  source: LineSource,
  totalLines: number,
  totalBytes: number,
  options: StreamerOptions,
) => Streamer

const gcodeStreamers: Record<string, GcodeStreamerFactory> = {
  marlin: (source, lines, bytes, options) => new MarlinStreamer(source, lines, bytes, options),
  grbl: (source, lines, bytes, options) => new GrblStreamer(source, lines, bytes, options),
}

/** The G-code streamer of a protocol; null when the protocol takes files as raw bytes. */
export function gcodeStreamerFor(protocol: string): GcodeStreamerFactory | null {
  return gcodeStreamers[protocol] ?? null
}

export function rawStreamer(file: DeviceFile, store: BlobStore, protocol: string, options: StreamerOptions) {
  return new RawStreamer(
    new RawFileSource(store.open(file.sha256, { highWaterMark: 64 * 1024 })),
    { transferId: randomUUID(), name: file.name, sizeBytes: file.sizeBytes, sha256: file.sha256 },
    options,
    // MQTT carries a file as bounded messages; serial and TCP as bytes.
    protocol === 'mqtt' ? 'messages' : 'bytes',
  )
}
