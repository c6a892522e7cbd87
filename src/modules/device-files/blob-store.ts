// Where uploaded content lives, behind one small interface: a blob is kept
// once per SHA-256 however often it is uploaded, written and read as a
// stream, never whole in memory. Two drivers: the data directory
// (storage.ts, one process: SQLite or a single PostgreSQL instance's files on
// its own disk) and PostgreSQL itself (pg-blob-store.ts, so every node of a
// cluster reads what any node stored). The meter both drivers put in the
// upload's path lives here.

import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { Transform, type TransformCallback } from 'node:stream'
import { PayloadTooLargeError } from '../../errors.js'

export interface StoredBlob {
  sha256: string
  sizeBytes: number
}

export interface IngestOptions {
  maxBytes: number
  /** Sees every chunk as it passes (the G-code line count). */
  inspect?: (chunk: Buffer) => void
}

export interface BlobStore {
  /**
   * Streams `source` into the store. Rejects with PayloadTooLargeError past
   * maxBytes (and with whatever the source fails with), leaving nothing behind
   * in every failure.
   */
  ingest(source: NodeJS.ReadableStream, options: IngestOptions): Promise<StoredBlob>
  exists(sha256: string): Promise<boolean>
  /** The content from byte `start` (default 0), in chunks of at most `highWaterMark` bytes. */
  open(sha256: string, options?: { start?: number; highWaterMark?: number }): Readable
  /** Removes the blob; a store that can check it keeps a blob some device file still names. */
  remove(sha256: string): Promise<void>
  /** Every stored blob (for the start-up sweep of unreferenced content). */
  list(): Promise<string[]>
  /** What uploads that stopped midway left (by this process's predecessors, or dead peers). */
  clearTemporary(): Promise<void>
}

export const SHA256 = /^[0-9a-f]{64}$/

export function assertSha256(sha256: string): void {
  if (!SHA256.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`)
}

/** Hashes and counts bytes as they pass; fails once more than maxBytes went by. */
export class Meter extends Transform {
  readonly hash = createHash('sha256')
  sizeBytes = 0

  constructor(
    private readonly maxBytes: number,
    private readonly inspect?: (chunk: Buffer) => void,
  ) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sizeBytes += chunk.length
    if (this.sizeBytes > this.maxBytes) {
      callback(tooLarge(this.maxBytes))
      return
    }
    this.hash.update(chunk)
    this.inspect?.(chunk)
    callback(null, chunk)
  }
}

export function tooLarge(maxBytes: number): PayloadTooLargeError {
  const mb = maxBytes / (1024 * 1024)
  return new PayloadTooLargeError(
    `the file is larger than the upload limit of ${Number.isInteger(mb) ? `${mb} MB` : `${maxBytes} bytes`} (MYNTRIX_UPLOAD_MAX_MB)`,
  )
}
