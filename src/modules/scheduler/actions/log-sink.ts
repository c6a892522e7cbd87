// The log of one run, capped. When output exceeds the cap the sink keeps the
// first half and the most recent half and puts a marker in between: the start
// shows what ran, the end shows why it failed.

export interface LogSink {
  /** Appends text as is (stream chunks). */
  write(text: string): void
  /** Appends one line (a newline is added). */
  line(text: string): void
  /** The captured text, with a truncation marker where output was dropped. */
  text(): string
  readonly truncated: boolean
  /** Characters dropped so far. */
  readonly droppedChars: number
}

export interface LogSinkOptions {
  /** Cap on kept characters (default 64 KiB); at least 64. */
  maxChars?: number
  /** Sees every write, even past the cap (for live log streaming). */
  onWrite?: (text: string) => void
}

export const DEFAULT_LOG_MAX_CHARS = 64 * 1024

export function truncationMarker(droppedChars: number): string {
  return `\n[... ${droppedChars} characters truncated ...]\n`
}

export function createLogSink(options: LogSinkOptions = {}): LogSink {
  const maxChars = Math.max(64, options.maxChars ?? DEFAULT_LOG_MAX_CHARS)
  const headMax = Math.floor(maxChars / 2)
  const tailMax = maxChars - headMax
  let head = ''
  // Tail chunks are joined and trimmed lazily so that a chatty process does
  // not cost a string copy per chunk.
  let tail: string[] = []
  let tailLength = 0
  let dropped = 0

  const trimTail = () => {
    if (tailLength <= tailMax * 2) return
    const joined = tail.join('')
    const keep = joined.slice(joined.length - tailMax)
    dropped += joined.length - keep.length
    tail = [keep]
    tailLength = keep.length
  }

  const sink: LogSink = {
    write(text: string) {
      if (text === '') return
      options.onWrite?.(text)
      let rest = text
      if (head.length < headMax) {
        const room = headMax - head.length
        head += rest.slice(0, room)
        rest = rest.slice(room)
      }
      if (rest === '') return
      tail.push(rest)
      tailLength += rest.length
      trimTail()
    },
    line(text: string) {
      sink.write(text.endsWith('\n') ? text : `${text}\n`)
    },
    text() {
      const joined = tail.join('')
      const extra = Math.max(0, joined.length - tailMax)
      const total = dropped + extra
      const kept = joined.slice(extra)
      return total > 0 ? head + truncationMarker(total) + kept : head + kept
    },
    get truncated() {
      return sink.droppedChars > 0
    },
    get droppedChars() {
      return dropped + Math.max(0, tailLength - tailMax)
    },
  }
  return sink
}
