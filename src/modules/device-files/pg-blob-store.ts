// The PostgreSQL driver of BlobStore (blob-store.ts): content in the database,
// so every node of a cluster can send what any node received. An upload gets a
// row in device_file_contents (sha256 still null) and streams into
// device_file_chunks in fixed pieces of CHUNK_BYTES, one insert per piece as
// the bytes arrive (the upload waits for each insert: backpressure, never the
// whole file in memory). Once hashed it takes its sha256 in one statement; the
// column is unique, so when that content is already stored the new copy is
// dropped and the stored one answers (content-addressed, as on disk).
// Reading fetches a few pieces at a time, in order.

import { randomUUID } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { rawQuery } from '../../db/raw.js'
import type { Database } from '../../db/types.js'
import { assertSha256, type BlobStore, type IngestOptions, Meter, type StoredBlob } from './blob-store.js'

/** Bytes per stored piece: large enough that a 256 MiB file is 1,024 rows, small enough to hold a few. */
export const CHUNK_BYTES = 256 * 1024
/** Pieces fetched per read query. */
const PIECES_PER_READ = 4

export interface PgBlobStoreOptions {
  db: Database
  /** This process's node id: an unfinished upload names who writes it. */
  nodeId: string
  /** The ids of the nodes alive now; an unfinished upload of any other node is left over. */
  liveNodeIds: () => Promise<string[]>
}

export class PgBlobStore implements BlobStore {
  constructor(private readonly opts: PgBlobStoreOptions) {}

  private query<R>(text: string, params: readonly unknown[]): Promise<R[]> {
    return rawQuery<R>(this.opts.db, 'postgres', text, params)
  }

  async ingest(source: NodeJS.ReadableStream, options: IngestOptions): Promise<StoredBlob> {
    const contentId = randomUUID()
    await this.query(
      'insert into device_file_contents (id, node_id, created_at) values (?, ?, statement_timestamp())',
      [contentId, this.opts.nodeId],
    )
    const meter = new Meter(options.maxBytes, options.inspect)
    try {
      await pipeline(source, meter, this.chunkWriter(contentId))
      const sha256 = meter.hash.digest('hex')
      const sizeBytes = meter.sizeBytes
      const named = await this.query<{ id: string }>(
        `update device_file_contents set sha256 = ?, size_bytes = ?
         where id = ? and not exists (select 1 from device_file_contents where sha256 = ?) returning id`,
        [sha256, sizeBytes, contentId, sha256],
      ).catch((err: { code?: string }) => {
        // Two uploads of the same content finished at once: the other one keeps it.
        if (err.code === '23505') return []
        throw err
      })
      if (named.length === 0) await this.dropContent(contentId)
      return { sha256, sizeBytes }
    } catch (err) {
      await this.dropContent(contentId).catch(() => {})
      throw err
    }
  }

  /** Cuts the stream into CHUNK_BYTES pieces and inserts each before taking more. */
  private chunkWriter(contentId: string): Writable {
    let pending: Buffer[] = []
    let pendingBytes = 0
    let seq = 0
    const flush = async (all: boolean) => {
      while (pendingBytes >= CHUNK_BYTES || (all && pendingBytes > 0)) {
        const joined = Buffer.concat(pending, pendingBytes)
        const piece = joined.subarray(0, Math.min(CHUNK_BYTES, joined.length))
        const rest = joined.subarray(piece.length)
        pending = rest.length > 0 ? [rest] : []
        pendingBytes = rest.length
        await this.query('insert into device_file_chunks (content_id, seq, data) values (?, ?, ?)', [
          contentId,
          seq++,
          piece,
        ])
      }
    }
    return new Writable({
      write(chunk: Buffer, _enc, callback) {
        pending.push(chunk)
        pendingBytes += chunk.length
        if (pendingBytes < CHUNK_BYTES) return callback()
        flush(false).then(() => callback(), callback)
      },
      final(callback) {
        flush(true).then(() => callback(), callback)
      },
    })
  }

  private async dropContent(contentId: string): Promise<void> {
    // The chunks go with it (on delete cascade).
    await this.query('delete from device_file_contents where id = ?', [contentId])
  }

  async exists(sha256: string): Promise<boolean> {
    assertSha256(sha256)
    const rows = await this.query('select 1 as one from device_file_contents where sha256 = ?', [sha256])
    return rows.length > 0
  }

  open(sha256: string, options: { start?: number; highWaterMark?: number } = {}): Readable {
    assertSha256(sha256)
    const step = options.highWaterMark ?? 64 * 1024
    const start = options.start ?? 0
    const pieces = this.pieces(sha256, start)
    async function* slices(): AsyncGenerator<Buffer> {
      for await (const piece of pieces) {
        for (let at = 0; at < piece.length; at += step) yield piece.subarray(at, at + step)
      }
    }
    return Readable.from(slices(), { objectMode: false, highWaterMark: step })
  }

  /** The stored pieces from byte `start` on, fetched PIECES_PER_READ at a time. */
  private async *pieces(sha256: string, start: number): AsyncGenerator<Buffer> {
    const [content] = await this.query<{ id: string }>(
      'select id from device_file_contents where sha256 = ?',
      [sha256],
    )
    if (!content) {
      throw Object.assign(new Error(`stored content ${sha256} is missing`), { code: 'ENOENT' })
    }
    let seq = Math.floor(start / CHUNK_BYTES)
    let skip = start % CHUNK_BYTES
    for (;;) {
      const rows = await this.query<{ seq: number; data: Buffer }>(
        'select seq, data from device_file_chunks where content_id = ? and seq >= ? order by seq limit ?',
        [content.id, seq, PIECES_PER_READ],
      )
      for (const row of rows) {
        yield skip > 0 ? row.data.subarray(skip) : row.data
        skip = 0
      }
      if (rows.length < PIECES_PER_READ) return
      seq += PIECES_PER_READ
    }
  }

  async remove(sha256: string): Promise<void> {
    assertSha256(sha256)
    // One statement checks and deletes: a node that just recorded a file of this content keeps it.
    await this.query(
      `delete from device_file_contents where sha256 = ?
       and not exists (select 1 from device_files where sha256 = ?)`,
      [sha256, sha256],
    )
  }

  async list(): Promise<string[]> {
    const rows = await this.query<{ sha256: string }>(
      'select sha256 from device_file_contents where sha256 is not null',
      [],
    )
    return rows.map((r) => r.sha256)
  }

  async clearTemporary(): Promise<void> {
    const live = new Set(await this.opts.liveNodeIds())
    live.add(this.opts.nodeId)
    await this.query(
      `delete from device_file_contents where sha256 is null and not (node_id = any(cast(? as text[])))`,
      [[...live]],
    )
  }
}
