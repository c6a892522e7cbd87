// Content-addressed file storage under the data dir: a file is kept once per
// SHA-256, at blobs/<first two hex>/<sha256>, however often it is uploaded.
// An upload streams to a temporary file while it is hashed and counted, so it
// is never held whole in memory; only a complete, in-limit upload is moved
// into place, and anything else leaves nothing behind.

import { createHash, randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { PayloadTooLargeError } from '../../errors.js'

export interface StoredBlob {
  sha256: string
  sizeBytes: number
}

const SHA256 = /^[0-9a-f]{64}$/

/** Hashes and counts bytes as they pass; fails once more than maxBytes went by. */
class Meter extends Transform {
  readonly hash = createHash('sha256')
  sizeBytes = 0

  constructor(private readonly maxBytes: number) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sizeBytes += chunk.length
    if (this.sizeBytes > this.maxBytes) {
      callback(tooLarge(this.maxBytes))
      return
    }
    this.hash.update(chunk)
    callback(null, chunk)
  }
}

export function tooLarge(maxBytes: number): PayloadTooLargeError {
  const mb = maxBytes / (1024 * 1024)
  return new PayloadTooLargeError(
    `the file is larger than the upload limit of ${Number.isInteger(mb) ? `${mb} MB` : `${maxBytes} bytes`} (MYNTRIX_UPLOAD_MAX_MB)`,
  )
}

export class FileStore {
  readonly root: string
  private readonly blobDir: string
  private readonly tmpDir: string

  constructor(root: string) {
    this.root = root
    this.blobDir = path.join(root, 'blobs')
    this.tmpDir = path.join(root, 'tmp')
  }

  pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`)
    return path.join(this.blobDir, sha256.slice(0, 2), sha256)
  }

  /**
   * Streams `source` into the store. Rejects with PayloadTooLargeError past
   * maxBytes (and with whatever the source fails with), removing the partial
   * file in every failure.
   */
  async ingest(
    source: NodeJS.ReadableStream,
    options: { maxBytes: number; inspect?: (chunk: Buffer) => void },
  ): Promise<StoredBlob> {
    await fs.mkdir(this.tmpDir, { recursive: true })
    const tmp = path.join(this.tmpDir, `${randomUUID()}.part`)
    const meter = new Meter(options.maxBytes)
    const inspect = options.inspect
    const tap = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        inspect?.(chunk)
        callback(null, chunk)
      },
    })
    // Open the file before piping: if the source fails at once, the write stream
    // would otherwise create the file after our cleanup already ran.
    const handle = await fs.open(tmp, 'wx')
    try {
      await pipeline(source, meter, tap, createWriteStream('', { fd: handle.fd, autoClose: false }))
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
