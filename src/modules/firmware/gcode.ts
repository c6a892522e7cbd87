// G-code, the language Marlin and GRBL share. Preparation for streaming: what
// the firmware should see of a file. Comments (`;` to end of line, `( ... )`
// inline) and blank lines never go on the wire; they only cost bytes and, on
// GRBL, receive-buffer space. And the reading of a line's words, for the
// emulators.

/** Removes comments and surrounding whitespace from one line; '' when nothing is left. */
export function stripGcodeLine(line: string): string {
  let out = ''
  let depth = 0
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (depth > 0) {
      if (ch === ')') depth--
      continue
    }
    if (ch === ';') break
    if (ch === '(') {
      depth++
      continue
    }
    out += ch
  }
  // An unclosed `(` comments out the rest of the line, as GRBL treats it.
  return out.replace(/\s+/g, ' ').trim()
}

/** The lines of a G-code text that go on the wire, in order. */
export function prepareGcode(text: string): string[] {
  const lines: string[] = []
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = stripGcodeLine(raw)
    if (line !== '' && line !== '%') lines.push(line)
  }
  return lines
}

/** A line that goes on the wire, with its 1-based line number in the file. */
export interface PreparedLine {
  text: string
  line: number
  /** Byte offset just past the line and its line break: where a reader resumes after it. */
  end: number
}

/**
 * Prepared lines out of chunks of text (a file read in pieces), so a large
 * file is never held whole. Line numbers count the file's own lines (CR, LF
 * or CRLF), so errors can point at the line an operator sees in an editor.
 * Chunks are latin1 text, one character per byte, so offsets are byte offsets.
 */
export class GcodeLineSplitter {
  private rest = ''
  private lineNumber = 0
  /** Bytes before `rest`. */
  private consumed = 0

  push(chunk: string): PreparedLine[] {
    let text = this.rest + chunk
    // A CR at the very end may be the first half of a CRLF split across chunks.
    let held = ''
    if (text.endsWith('\r')) {
      held = '\r'
      text = text.slice(0, -1)
    }
    const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'))
    if (cut < 0) {
      this.rest = text + held
      return []
    }
    this.rest = text.slice(cut + 1) + held
    // The segment ends after its last line break (both halves of a CRLF).
    return this.prepare(text.slice(0, cut + 1))
  }

  end(): PreparedLine[] {
    const rest = this.rest
    this.rest = ''
    return rest === '' ? [] : this.prepare(rest)
  }

  private prepare(text: string): PreparedLine[] {
    const out: PreparedLine[] = []
    const breaks = /\r\n|\r|\n/g
    let start = 0
    while (start < text.length) {
      const found = breaks.exec(text)
      const stop = found ? found.index : text.length
      const next = found ? stop + found[0].length : text.length
      this.lineNumber++
      const stripped = stripGcodeLine(text.slice(start, stop))
      if (stripped !== '' && stripped !== '%') {
        out.push({ text: stripped, line: this.lineNumber, end: this.consumed + next })
      }
      start = next
    }
    this.consumed += text.length
    return out
  }
}

/** G-code words (`X10.5`) as a map; `null` when the line has leftovers that are not words. */
export function gcodeWords(line: string): Map<string, number> | null {
  const words = new Map<string, number>()
  const rest = line.replace(/([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))/gi, (_, letter: string, value: string) => {
    const key = letter.toUpperCase()
    if (!words.has(key)) words.set(key, Number(value))
    return ''
  })
  return rest.trim() === '' ? words : null
}
