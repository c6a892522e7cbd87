// G-code preparation for streaming: what the firmware should see of a file.
// Comments (`;` to end of line, `( ... )` inline) and blank lines never go on
// the wire; they only cost bytes and, on GRBL, receive-buffer space.

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

/**
 * Streams prepared lines out of chunks of text (a file read in pieces), so a
 * large file is never held whole. `push` returns the complete lines so far.
 */
export class GcodeLineSplitter {
  private rest = ''

  push(chunk: string): string[] {
    const text = this.rest + chunk
    const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'))
    if (cut < 0) {
      this.rest = text
      return []
    }
    this.rest = text.slice(cut + 1)
    return prepareGcode(text.slice(0, cut))
  }

  end(): string[] {
    const lines = prepareGcode(this.rest)
    this.rest = ''
    return lines
  }
}

/** Marlin's checksum: XOR of every byte before the `*`. */
export function marlinChecksum(text: string): number {
  let cs = 0
  for (let i = 0; i < text.length; i++) cs ^= text.charCodeAt(i) & 0xff
  return cs
}

/** `N<n> <cmd>*<checksum>` without the line ending. */
export function marlinFrame(lineNumber: number, command: string): string {
  if (!Number.isInteger(lineNumber) || lineNumber < 0) {
    throw new RangeError(`lineNumber must be an integer >= 0, got ${lineNumber}`)
  }
  const body = `N${lineNumber} ${command}`
  return `${body}*${marlinChecksum(body)}`
}
