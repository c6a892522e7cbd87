// The connection's line splitter: however a device's bytes are cut into
// chunks, the same lines come out, every byte kept (latin1); a device that
// never sends a line break is cut at the maximum line length.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LineSplitter } from '../../../src/modules/devices/line-splitter.js'

function split(chunks: Buffer[], maxLineLength?: number): { lines: string[]; splitter: LineSplitter } {
  const lines: string[] = []
  const splitter = new LineSplitter((line) => lines.push(line), maxLineLength)
  for (const chunk of chunks) splitter.push(chunk)
  return { lines, splitter }
}

describe('LineSplitter', () => {
  it('gives the same lines for any chunking of the same bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat({ max: 400 }), { maxLength: 12 }),
        (bytes, cuts) => {
          const data = Buffer.from(bytes)
          const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b)
          const chunks: Buffer[] = []
          let from = 0
          for (const at of [...points, data.length]) {
            chunks.push(data.subarray(from, at))
            from = at
          }
          const text = data.toString('latin1')
          const expected = text.split('\n').slice(0, -1)
          expect(split(chunks).lines).toEqual(expected)
        },
      ),
    )
  })

  it('keeps every byte value (latin1) and hands on nothing after the last line break', () => {
    const { lines } = split([Buffer.from([0x6f, 0x6b, 0xff, 0x0d, 0x0a, 0x00, 0x80])])
    expect(lines).toEqual(['ok\u00ff\r'])
  })

  it('cuts a line that never ends at the maximum length', () => {
    const { lines } = split([Buffer.from('a'.repeat(25)), Buffer.from('b'.repeat(5)), Buffer.from('\n')], 10)
    expect(lines).toEqual(['a'.repeat(10), 'a'.repeat(10), `${'a'.repeat(5)}${'b'.repeat(5)}`, ''])
  })

  it('finds a line break at the start of a chunk after a partial line, and one byte at a time', () => {
    const bytes = [...Buffer.from('ok T:20\r\nbusy: processing\n\nok\n')].map((b) => Buffer.from([b]))
    expect(split(bytes).lines).toEqual(['ok T:20\r', 'busy: processing', '', 'ok'])
    expect(split([Buffer.from('abc'), Buffer.from('\ndef\n')]).lines).toEqual(['abc', 'def'])
  })

  it('hands on nothing after stop(), not even the rest of the chunk it is splitting', () => {
    const lines: string[] = []
    const splitter = new LineSplitter((line) => {
      lines.push(line)
      if (line === 'reset') splitter.stop()
    })
    splitter.push(Buffer.from('ok\nreset\nok\npart'))
    splitter.push(Buffer.from('ial\n'))
    expect(lines).toEqual(['ok', 'reset'])
  })
})
