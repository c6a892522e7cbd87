// Inbound bytes into lines: latin1 (every byte one character, so nothing a
// device sends is lost to decoding), split at `\n`, the delimiter dropped. A
// plain function call per chunk: the answer a streamer waits for reaches it
// without a stream's machinery in between. A device that sends no line break
// for maxLineLength characters has that much handed on as a line, so a
// babbling or misconfigured device cannot grow the buffer without bound.

export const MAX_LINE_LENGTH = 64 * 1024

export class LineSplitter {
  private partial = ''
  private isStopped = false

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineLength = MAX_LINE_LENGTH,
  ) {}

  push(chunk: Buffer): void {
    if (this.isStopped) return
    // The partial line holds no line break: only the new text is searched (a device trickling
    // bytes without one must not make each chunk rescan up to the maximum length).
    const scanFrom = this.partial.length
    const text = this.partial + chunk.toString('latin1')
    let start = 0
    for (let end = text.indexOf('\n', scanFrom); end !== -1; end = text.indexOf('\n', start)) {
      this.onLine(text.slice(start, end))
      start = end + 1
      if (this.isStopped) return
    }
    let rest = text.slice(start)
    while (rest.length >= this.maxLineLength && !this.isStopped) {
      this.onLine(rest.slice(0, this.maxLineLength))
      rest = rest.slice(this.maxLineLength)
    }
    this.partial = rest
  }

  /** Nothing more is handed on, not even the rest of a chunk being split. */
  stop(): void {
    this.isStopped = true
    this.partial = ''
  }
}
