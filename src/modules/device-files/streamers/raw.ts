// Files that are not G-code go as bytes. Over a byte stream (serial, TCP) in
// chunks, each awaiting the transport's write callback, so the socket's or
// port's own flow control paces the sender and progress counts bytes handed
// to the OS. Over MQTT, whose far end sees messages, as bounded messages each
// answered before the next:
//   FILE-BEGIN <transferId> <name> <sizeBytes> <sha256>
//   FILE-CHUNK <transferId> <seq> <base64>        (seq from 0)
//   FILE-END <transferId> <chunks> <sizeBytes> <sha256>
// so the device can detect a lost or repeated chunk and check the digest.

import { TransferError } from '../errors.js'
import { FileStreamer } from './file-streamer.js'
import type { ChunkSource } from './source.js'
import type { StreamControl, StreamerOptions, StreamOutcome, StreamSession } from './types.js'

export const RAW_CHUNK_BYTES = 4096
/** MQTT message payload bytes before base64 (about 4 KiB on the wire). */
export const MQTT_CHUNK_BYTES = 3072

export interface RawFileInfo {
  transferId: string
  name: string
  sizeBytes: number
  sha256: string
}

/** Re-slices a source's chunks to at most `size` bytes. */
class Slicer {
  private rest: Buffer | null = null

  constructor(
    private readonly source: ChunkSource,
    private readonly size: number,
  ) {}

  async next(): Promise<Buffer | null> {
    if (!this.rest || this.rest.length === 0) this.rest = await this.source.next()
    if (!this.rest) return null
    const out = this.rest.subarray(0, this.size)
    this.rest = this.rest.subarray(out.length)
    return out
  }
}

export class RawStreamer extends FileStreamer<ChunkSource> {
  private readonly slicer: Slicer
  private pending: Buffer | null = null
  private seq = 0
  private hasBegun = false
  private readonly isMessages: boolean

  constructor(
    source: ChunkSource,
    private readonly file: RawFileInfo,
    options: StreamerOptions,
    mode: 'bytes' | 'messages',
  ) {
    super(source, null, file.sizeBytes, options)
    this.isMessages = mode === 'messages'
    this.slicer = new Slicer(source, this.isMessages ? MQTT_CHUNK_BYTES : RAW_CHUNK_BYTES)
  }

  async run(session: StreamSession, control: StreamControl): Promise<StreamOutcome> {
    let closed: Error | null = null
    const offClose = session.onClose((reason) => {
      closed = reason
    })
    try {
      if (this.isMessages && !this.hasBegun) {
        const f = this.file
        await this.message(
          session,
          `FILE-BEGIN ${f.transferId} ${f.name.replace(/\s/g, '_')} ${f.sizeBytes} ${f.sha256}`,
        )
        this.hasBegun = true
      }
      for (;;) {
        if (session.queuedCount > 0) await session.runQueued()
        if (control.shouldStop()) return 'stopped'
        const chunk = this.pending ?? (await this.slicer.next())
        if (chunk === null) break
        this.pending = chunk
        this.progress.bytesSent += chunk.length
        if (this.isMessages) {
          await this.message(
            session,
            `FILE-CHUNK ${this.file.transferId} ${this.seq} ${chunk.toString('base64')}`,
          )
          this.seq++
        } else {
          try {
            await session.write(chunk)
          } catch (err) {
            throw TransferError.from(
              closed ?? err,
              `byte ${this.progress.bytesAcknowledged} could not be written`,
            )
          }
        }
        this.pending = null
        this.progress.bytesAcknowledged += chunk.length
        control.progressed()
      }
      if (this.isMessages) {
        const f = this.file
        await this.message(session, `FILE-END ${f.transferId} ${this.seq} ${f.sizeBytes} ${f.sha256}`)
      }
      return 'done'
    } finally {
      offClose()
    }
  }

  private async message(session: StreamSession, text: string): Promise<void> {
    const label = text.slice(0, text.indexOf(' ', text.indexOf(' ') + 1))
    let result: Awaited<ReturnType<StreamSession['command']>>
    try {
      result = await session.command(text, { timeoutMs: this.options.lineTimeoutMs, quiet: true })
    } catch (err) {
      throw TransferError.from(err, `${label} was not answered`)
    }
    if (!result.ok) throw new TransferError(`${label} was refused: ${result.message}`, { firmware: true })
  }
}
