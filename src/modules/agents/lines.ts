// Splits a byte stream into lines. Bounded: a producer that never prints a newline
// cannot grow memory without limit; a too-long line is cut into pieces.

import { StringDecoder } from 'node:string_decoder'

export const DEFAULT_MAX_LINE_CHARS = 16_384

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  private pending = ''

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxLineChars = DEFAULT_MAX_LINE_CHARS,
  ) {}

  push(chunk: Buffer | string): void {
    let text = this.pending + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk))
    let nl = text.indexOf('\n')
    while (nl !== -1) {
      this.emitLine(text.slice(0, nl))
      text = text.slice(nl + 1)
      nl = text.indexOf('\n')
    }
    while (text.length > this.maxLineChars) {
      this.emit(text.slice(0, this.maxLineChars))
      text = text.slice(this.maxLineChars)
    }
    this.pending = text
  }

  /** Emits a last line that had no newline. */
  end(): void {
    const rest = this.pending + this.decoder.end()
    this.pending = ''
    if (rest !== '') this.emitLine(rest)
  }

  private emitLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    for (let i = 0; i < line.length || i === 0; i += this.maxLineChars) {
      this.emit(line.slice(i, i + this.maxLineChars))
    }
  }
}
