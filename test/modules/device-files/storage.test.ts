import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PayloadTooLargeError } from '../../../src/errors.js'
import { FileStore } from '../../../src/modules/device-files/storage.js'

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
}

function chunks(parts: (string | Buffer)[]): Readable {
  return Readable.from(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)))
}

describe('FileStore', () => {
  let dir: string
  let store: FileStore

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-files-'))
    store = new FileStore(dir)
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('stores by SHA-256 and reports the size', async () => {
    const blob = await store.ingest(chunks(['G28\n', 'G1 X1\n']), { maxBytes: 100 })
    expect(blob.sha256).toBe(createHash('sha256').update('G28\nG1 X1\n').digest('hex'))
    expect(blob.sizeBytes).toBe(10)
    expect(fs.readFileSync(store.pathOf(blob.sha256), 'utf8')).toBe('G28\nG1 X1\n')
    expect(await store.list()).toEqual([blob.sha256])
  })

  it('keeps the same content once', async () => {
    const a = await store.ingest(chunks(['same']), { maxBytes: 100 })
    const b = await store.ingest(chunks(['sa', 'me']), { maxBytes: 100 })
    expect(b.sha256).toBe(a.sha256)
    expect(filesUnder(dir)).toEqual([a.sha256])
  })

  it('rejects past the limit and leaves nothing on disk', async () => {
    await expect(store.ingest(chunks(['12345', '67890', 'x']), { maxBytes: 10 })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    )
    expect(filesUnder(dir)).toEqual([])
  })

  it('accepts exactly the limit', async () => {
    const blob = await store.ingest(chunks(['1234567890']), { maxBytes: 10 })
    expect(blob.sizeBytes).toBe(10)
  })

  it('removes the partial file when the source fails', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'))
        this.destroy(new Error('client went away'))
      },
    })
    await expect(store.ingest(failing, { maxBytes: 100 })).rejects.toThrow('client went away')
    expect(filesUnder(dir)).toEqual([])
  })

  it('refuses a path that is not a hash', () => {
    expect(() => store.pathOf('../../etc/passwd')).toThrow(RangeError)
  })

  it('removes a blob', async () => {
    const blob = await store.ingest(chunks(['x']), { maxBytes: 10 })
    await store.remove(blob.sha256)
    expect(await store.exists(blob.sha256)).toBe(false)
  })
})
