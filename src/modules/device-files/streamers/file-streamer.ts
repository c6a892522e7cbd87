// What every streamer holds, whatever goes on the wire: the file's source, the
// transfer's progress and the timeouts. Raw files (raw.ts) and each firmware's
// G-code (src/modules/firmware/<name>/streamer.ts) add only how they send.

import type { LineSource } from './source.js'
import {
  newProgress,
  type StreamControl,
  type Streamer,
  type StreamerOptions,
  type StreamOutcome,
  type StreamSession,
  type TransferProgress,
} from './types.js'

export abstract class FileStreamer<Source extends { close(): void }> implements Streamer {
  readonly progress: TransferProgress

  constructor(
    protected readonly source: Source,
    totalLines: number | null,
    totalBytes: number,
    protected readonly options: StreamerOptions,
  ) {
    this.progress = newProgress(totalLines, totalBytes)
  }

  abstract run(session: StreamSession, control: StreamControl): Promise<StreamOutcome>

  close(): void {
    this.source.close()
  }
}

/** A firmware's G-code streamer, as the device-files service builds one per transfer. */
export type GcodeStreamerClass = new (
  source: LineSource,
  totalLines: number,
  totalBytes: number,
  options: StreamerOptions,
) => Streamer
