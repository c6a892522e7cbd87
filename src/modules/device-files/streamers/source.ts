// Reads a stored file lazily: prepared G-code lines or raw chunks, a piece at
// a time, so a large file never sits whole in memory.

import type { Readable } from 'node:stream'
import { GcodeLineSplitter, type PreparedLine } from '../../firmware/gcode.js'

export interface LineSource {
  /** The next line, or null at the end of the file. */
  next(): Promise<PreparedLine | null>
  close(): void
}

export class GcodeFileSource implements LineSource {
  private readonly splitter = new GcodeLineSplitter()
  private buffered: PreparedLine[] = []
  private index = 0
  private readonly iterator: AsyncIterator<Buffer>
  private isEnded = false

  constructor(private readonly stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]()
  }

  async next(): Promise<PreparedLine | null> {
    while (this.index >= this.buffered.length) {
      if (this.isEnded) return null
      const { value, done } = await this.iterator.next()
      this.index = 0
      if (done) {
        this.isEnded = true
        this.buffered = this.splitter.end()
      } else {
        // latin1 maps bytes 1:1, so a chunk boundary never splits a character.
        this.buffered = this.splitter.push((value as Buffer).toString('latin1'))
      }
    }
    return this.buffered[this.index++]
  }

  close(): void {
    this.stream.destroy()
  }
}

export interface ChunkSource {
  next(): Promise<Buffer | null>
  close(): void
}

export class RawFileSource implements ChunkSource {
  private readonly iterator: AsyncIterator<Buffer>

  constructor(private readonly stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]()
  }

  async next(): Promise<Buffer | null> {
    const { value, done } = await this.iterator.next()
    return done ? null : (value as Buffer)
  }

  close(): void {
    this.stream.destroy()
  }
}

/** Counts the prepared lines of a file as it streams past (used at upload). */
export class LineCounter {
  private readonly splitter = new GcodeLineSplitter()
  count = 0

  push(chunk: Buffer): void {
    this.count += this.splitter.push(chunk.toString('latin1')).length
  }

  end(): number {
    this.count += this.splitter.end().length
    return this.count
  }
}

/**
 * A restarted transfer's lines: the preamble first (line 0: not the file's),
 * then the file's lines from `fromLine` on. The lines before are read and
 * dropped, never sent.
 */
export class ResumeSource implements LineSource {
  private preambleIndex = 0

  constructor(
    private readonly preamble: string[],
    private readonly file: LineSource,
    private readonly fromLine: number,
  ) {}

  async next(): Promise<PreparedLine | null> {
    if (this.preambleIndex < this.preamble.length) {
      return { text: this.preamble[this.preambleIndex++]!, line: 0, end: 0 }
    }
    for (;;) {
      const line = await this.file.next()
      if (line === null || line.line >= this.fromLine) return line
    }
  }

  close(): void {
    this.file.close()
  }
}
