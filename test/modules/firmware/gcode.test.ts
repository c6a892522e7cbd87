import { describe, expect, it } from 'vitest'
import { GcodeLineSplitter, prepareGcode, stripGcodeLine } from '../../../src/modules/firmware/gcode.js'
import { marlinChecksum, marlinFrame } from '../../../src/modules/firmware/marlin/wire.js'

describe('G-code preparation', () => {
  it('strips ; comments, ( ) comments and surrounding whitespace', () => {
    expect(stripGcodeLine('G1 X10 ; move')).toBe('G1 X10')
    expect(stripGcodeLine('G1 (inline) X10 (again)')).toBe('G1 X10')
    expect(stripGcodeLine('  ; only a comment')).toBe('')
    expect(stripGcodeLine('(unclosed comment G1 X1')).toBe('')
    expect(stripGcodeLine('G1\tX1   Y2')).toBe('G1 X1 Y2')
  })

  it('drops blank and comment-only lines and keeps order', () => {
    const text = '; header\r\n\r\nG28\n  \nG1 X1 ; a\r(c)\nM104 S200\n%\n'
    expect(prepareGcode(text)).toEqual(['G28', 'G1 X1', 'M104 S200'])
  })

  it('splits chunks at any point into the same lines as the whole text', () => {
    const text = 'G28\nG1 X1 ; c\n\nG1 (a) Y2\r\nM105'
    for (let cut = 0; cut <= text.length; cut++) {
      const splitter = new GcodeLineSplitter()
      const lines = [
        ...splitter.push(text.slice(0, cut)),
        ...splitter.push(text.slice(cut)),
        ...splitter.end(),
      ]
      expect(
        lines.map((l) => l.text),
        `cut at ${cut}`,
      ).toEqual(prepareGcode(text))
      // Line numbers are the file's own (CRLF counts once), blank and comment lines skipped.
      expect(lines.map((l) => l.line)).toEqual([1, 2, 4, 5])
      // Byte offsets just past each line and its break: 'G28\n' is 4 bytes, '\r\n' counts 2.
      expect(lines.map((l) => l.end)).toEqual([4, 14, 26, 30])
    }
  })

  it('frames a Marlin line with its number and XOR checksum', () => {
    // Reference values as printcore computes them.
    expect(marlinChecksum('N1 G28')).toBe([...'N1 G28'].reduce((a, c) => a ^ c.charCodeAt(0), 0))
    expect(marlinFrame(1, 'G28')).toBe(`N1 G28*${marlinChecksum('N1 G28')}`)
    expect(marlinFrame(0, 'M110 N0')).toBe('N0 M110 N0*125')
  })

  it('rejects a negative or fractional line number', () => {
    expect(() => marlinFrame(-1, 'G28')).toThrow(RangeError)
    expect(() => marlinFrame(1.5, 'G28')).toThrow(RangeError)
  })
})
