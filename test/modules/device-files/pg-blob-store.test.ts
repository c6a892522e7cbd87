// The PostgreSQL driver of the device-file store against a real PostgreSQL:
// content-addressed like the directory store, pieces of CHUNK_BYTES, reads
// from an offset, nothing left by a failed or too-large upload, unfinished
// uploads of gone nodes cleared, and a 256 MiB upload streamed (its RSS
// printed, not asserted tightly).

import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DatabaseHandle, migrate } from '../../../src/db/index.js'
import { rawQuery } from '../../../src/db/raw.js'
import { PayloadTooLargeError } from '../../../src/errors.js'
import { CHUNK_BYTES, PgBlobStore } from '../../../src/modules/device-files/pg-blob-store.js'
import { type TestDatabase, testEngines } from '../../helpers/engines.js'

const postgres = testEngines().find((e) => e.name === 'postgres')

function chunks(parts: (string | Buffer)[]): Readable {
  return Readable.from(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)))
}

/** `total` bytes of a repeating pattern, made lazily in 64 KiB pieces. */
function generated(total: number): Readable {
  const piece = Buffer.alloc(64 * 1024)
  for (let i = 0; i < piece.length; i++) piece[i] = (i * 31) % 251
  let sent = 0
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null)
      const n = Math.min(piece.length, total - sent)
      sent += n
      this.push(n === piece.length ? piece : piece.subarray(0, n))
    },
  })
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

describe.skipIf(!postgres)('PgBlobStore on postgres', () => {
  let testDb: TestDatabase
  let handle: DatabaseHandle
  let store: PgBlobStore
  let live: string[] = ['node-1']
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await rawQuery<{ n: string }>(handle.db, 'postgres', sql, params))[0]?.n)

  beforeAll(async () => {
    testDb = await postgres!.createDatabase()
    handle = testDb.open()
    await migrate(handle)
    store = new PgBlobStore({ db: handle.db, nodeId: 'node-1', liveNodeIds: async () => live })
  })
  afterAll(async () => {
    await handle?.close()
    await testDb?.drop()
  })

  it('stores by SHA-256 once, in pieces, and reads back from any offset', async () => {
    const content = Buffer.alloc(CHUNK_BYTES * 2 + 1234)
    for (let i = 0; i < content.length; i++) content[i] = i % 253
    const parts = [
      content.subarray(0, 1000),
      content.subarray(1000, CHUNK_BYTES + 5),
      content.subarray(CHUNK_BYTES + 5),
    ]
    const a = await store.ingest(chunks(parts), { maxBytes: content.length })
    expect(a.sha256).toBe(createHash('sha256').update(content).digest('hex'))
    expect(a.sizeBytes).toBe(content.length)
    const b = await store.ingest(chunks([content]), { maxBytes: content.length })
    expect(b.sha256).toBe(a.sha256)
    expect(await store.list()).toEqual([a.sha256])
    expect(await count('select count(*) as n from device_file_chunks')).toBe(3)
    expect((await readAll(store.open(a.sha256))).equals(content)).toBe(true)
    const from = CHUNK_BYTES + 17
    const tail = await readAll(store.open(a.sha256, { start: from, highWaterMark: 1000 }))
    expect(tail.equals(content.subarray(from))).toBe(true)
    // highWaterMark bounds the pieces a reader gets (the raw streamer's 64 KiB).
    for await (const piece of store.open(a.sha256, { highWaterMark: 1000 })) {
      expect((piece as Buffer).length).toBeLessThanOrEqual(1000)
    }
    await store.remove(a.sha256)
    expect(await store.exists(a.sha256)).toBe(false)
    expect(await count('select count(*) as n from device_file_chunks')).toBe(0)
  })

  it('rejects past the limit, and a failing source, leaving no row behind', async () => {
    await expect(store.ingest(chunks(['12345', '67890', 'x']), { maxBytes: 10 })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    )
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(CHUNK_BYTES + 1))
        this.destroy(new Error('client went away'))
      },
    })
    await expect(store.ingest(failing, { maxBytes: 10 * CHUNK_BYTES })).rejects.toThrow('client went away')
    expect(await count('select count(*) as n from device_file_contents')).toBe(0)
    expect(await count('select count(*) as n from device_file_chunks')).toBe(0)
  })

  it('clears unfinished uploads of nodes that are gone, not those of live ones', async () => {
    for (const node of ['gone', 'peer']) {
      await rawQuery(
        handle.db,
        'postgres',
        'insert into device_file_contents (id, node_id, created_at) values (?, ?, now())',
        [`partial-${node}`, node],
      )
    }
    live = ['peer']
    await store.clearTemporary()
    const left = await rawQuery<{ id: string }>(
      handle.db,
      'postgres',
      'select id from device_file_contents',
      [],
    )
    expect(left.map((r) => r.id)).toEqual(['partial-peer'])
    await rawQuery(handle.db, 'postgres', 'delete from device_file_contents', [])
  })

  it('keeps content a device file still names', async () => {
    const blob = await store.ingest(chunks(['G28\n']), { maxBytes: 100 })
    await rawQuery(
      handle.db,
      'postgres',
      "insert into users (id, username, password_hash, role, created_at, updated_at) values ('u1', 'u1', 'x', 'operator', now(), now())",
      [],
    )
    await rawQuery(
      handle.db,
      'postgres',
      `insert into devices (id, owner_id, name, type, connection_string, configuration, status, created_at, updated_at)
       values ('d1', 'u1', 'd', 'printer', 'sim://marlin', '{}', 'disconnected', now(), now())`,
      [],
    )
    await rawQuery(
      handle.db,
      'postgres',
      `insert into device_files (id, device_id, owner_id, name, sha256, size_bytes, kind, created_at, updated_at)
       values ('f1', 'd1', 'u1', 'a.gcode', ?, 4, 'gcode', now(), now())`,
      [blob.sha256],
    )
    await store.remove(blob.sha256)
    expect(await store.exists(blob.sha256)).toBe(true)
  })

  it('streams a 256 MiB upload and read without holding it (RSS printed)', async () => {
    const total = 256 * 1024 * 1024
    global.gc?.()
    const before = process.memoryUsage().rss
    let peak = before
    const sample = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 50)
    try {
      const blob = await store.ingest(generated(total), { maxBytes: total })
      expect(blob.sizeBytes).toBe(total)
      expect(
        await count(
          'select count(*) as n from device_file_chunks c join device_file_contents f on f.id = c.content_id where f.sha256 = ?',
          [blob.sha256],
        ),
      ).toBe(total / CHUNK_BYTES)
      const afterWrite = peak
      const hash = createHash('sha256')
      let read = 0
      for await (const piece of store.open(blob.sha256, { highWaterMark: 64 * 1024 })) {
        hash.update(piece as Buffer)
        read += (piece as Buffer).length
      }
      expect(read).toBe(total)
      expect(hash.digest('hex')).toBe(blob.sha256)
      const mib = (n: number) => (n / 1024 / 1024).toFixed(1)
      console.log(
        `[pg-blob-store] 256 MiB: RSS before ${mib(before)} MiB, peak while writing ${mib(afterWrite)} MiB, peak while reading ${mib(peak)} MiB`,
      )
      // Loose on purpose: far below the file's size is what streaming means.
      expect(peak - before).toBeLessThan(total / 2)
    } finally {
      clearInterval(sample)
    }
  }, 180_000)
})
