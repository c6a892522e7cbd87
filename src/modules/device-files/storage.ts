// Content-addressed file storage under the data dir: a file is kept once per
// SHA-256, at blobs/<first two hex>/<sha256>, however often it is uploaded.
// An upload streams to a temporary file while it is hashed and counted, so it
// is never held whole in memory; only a complete, in-limit upload is moved
// into place, and anything else leaves nothing behind.

import { randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import {
  assertSha256,
  type BlobStore,
  type IngestOptions,
  Meter,
  SHA256,
  type StoredBlob,
} from './blob-store.js'

/** The data-directory driver of BlobStore (blob-store.ts). */
export class FileStore implements BlobStore {
  readonly root: string
  private readonly blobDir: string
  private readonly tmpDir: string

  constructor(root: string) {
    this.root = root
    this.blobDir = path.join(root, 'blobs')
    this.tmpDir = path.join(root, 'tmp')
  }

  pathOf(sha256: string): string {
    assertSha256(sha256)
    return path.join(this.blobDir, sha256.slice(0, 2), sha256)
  }

  async ingest(source: NodeJS.ReadableStream, options: IngestOptions): Promise<StoredBlob> {
    await fs.mkdir(this.tmpDir, { recursive: true })
    const tmp = path.join(this.tmpDir, `${randomUUID()}.part`)
    const meter = new Meter(options.maxBytes, options.inspect)
    // Open the file before piping: if the source fails at once, the write stream
    // would otherwise create the file after our cleanup already ran.
    const handle = await fs.open(tmp, 'wx')
    try {
      await pipeline(source, meter, createWriteStream('', { fd: handle.fd, autoClose: false }))
      await handle.close()
      const sha256 = meter.hash.digest('hex')
      const target = this.pathOf(sha256)
      await fs.mkdir(path.dirname(target), { recursive: true })
      // Same content, same bytes: replacing an existing blob is harmless.
      await fs.rename(tmp, target)
      return { sha256, sizeBytes: meter.sizeBytes }
    } catch (err) {
      await handle.close().catch(() => {})
      await fs.rm(tmp, { force: true })
      throw err
    }
  }

  async exists(sha256: string): Promise<boolean> {
    try {
      await fs.access(this.pathOf(sha256))
      return true
    } catch {
      return false
    }
  }

  open(sha256: string, options: { start?: number; highWaterMark?: number } = {}): ReadStream {
    return createReadStream(this.pathOf(sha256), options)
  }

  async remove(sha256: string): Promise<void> {
    await fs.rm(this.pathOf(sha256), { force: true })
  }

  /** Every blob on disk (for the start-up sweep of unreferenced files). */
  async list(): Promise<string[]> {
    const out: string[] = []
    let prefixes: string[]
    try {
      prefixes = await fs.readdir(this.blobDir)
    } catch {
      return out
    }
    for (const prefix of prefixes) {
      const names = await fs.readdir(path.join(this.blobDir, prefix)).catch(() => [] as string[])
      for (const name of names) if (SHA256.test(name)) out.push(name)
    }
    return out
  }

  /** Temporary files left by a process that stopped mid-upload. */
  async clearTemporary(): Promise<void> {
    await fs.rm(this.tmpDir, { recursive: true, force: true })
  }
}
