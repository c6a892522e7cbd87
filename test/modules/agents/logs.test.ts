import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LineSplitter } from '../../../src/modules/agents/lines.js'
import { LogRing } from '../../../src/modules/agents/log-buffer.js'
import { RotatingLogFile, readLogTail, removeLogFiles } from '../../../src/modules/agents/log-file.js'

describe('LogRing', () => {
  it('keeps the newest lines, oldest first, with increasing seq', () => {
    const ring = new LogRing(3)
    for (let i = 1; i <= 5; i++) ring.push('stdout', `l${i}`)
    expect(ring.tail().map((e) => e.line)).toEqual(['l3', 'l4', 'l5'])
    expect(ring.tail(2).map((e) => e.seq)).toEqual([4, 5])
    expect(ring.tail(100)).toHaveLength(3)
    expect(ring.tail(0)).toEqual([])
    expect(ring.tail(-1)).toEqual([])
    expect(ring.length).toBe(3)
  })

  it('rejects a capacity below one', () => {
    expect(() => new LogRing(0)).toThrow(RangeError)
  })
})

describe('LineSplitter', () => {
  it('joins chunks into lines, strips CR, keeps a partial line until its newline', () => {
    const lines: string[] = []
    const s = new LineSplitter((l) => lines.push(l))
    s.push('he')
    s.push('llo\r\nwor')
    expect(lines).toEqual(['hello'])
    s.push('ld\n\n')
    s.push('tail')
    s.end()
    expect(lines).toEqual(['hello', 'world', '', 'tail'])
  })

  it('does not split a multi-byte character across chunks', () => {
    const lines: string[] = []
    const s = new LineSplitter((l) => lines.push(l))
    const bytes = Buffer.from('größe\n')
    s.push(bytes.subarray(0, 3))
    s.push(bytes.subarray(3))
    expect(lines).toEqual(['größe'])
  })

  it('cuts a line without newline at the limit instead of growing', () => {
    const lines: string[] = []
    const s = new LineSplitter((l) => lines.push(l), 4)
    s.push('abcdefghij')
    expect(lines).toEqual(['abcd', 'efgh'])
    s.end()
    expect(lines).toEqual(['abcd', 'efgh', 'ij'])
  })
})

describe('RotatingLogFile', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'myntrix-logfile-'))
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('appends lines and rotates by size, keeping maxFiles files', async () => {
    const file = new RotatingLogFile(dir, 'a1', { maxBytes: 20, maxFiles: 3 })
    // 7 bytes per line with its newline: two fit in 20 bytes, a third does not.
    for (let i = 0; i < 10; i++) file.write(`line-${i}`)
    await file.close()
    expect(readdirSync(dir).sort()).toEqual(['a1.log', 'a1.log.1', 'a1.log.2'])
    expect(readFileSync(join(dir, 'a1.log'), 'utf8')).toBe('line-8\nline-9\n')
    expect(readFileSync(join(dir, 'a1.log.1'), 'utf8')).toBe('line-6\nline-7\n')
    expect(readFileSync(join(dir, 'a1.log.2'), 'utf8')).toBe('line-4\nline-5\n')
  })

  it('continues an existing file and counts its size', async () => {
    const a = new RotatingLogFile(dir, 'a1', { maxBytes: 16, maxFiles: 2 })
    a.write('aaaaaaa')
    await a.close()
    const b = new RotatingLogFile(dir, 'a1', { maxBytes: 16, maxFiles: 2 })
    b.write('bbbbbbb')
    b.write('ccccccc')
    await b.close()
    expect(readFileSync(join(dir, 'a1.log.1'), 'utf8')).toBe('aaaaaaa\nbbbbbbb\n')
    expect(readFileSync(join(dir, 'a1.log'), 'utf8')).toBe('ccccccc\n')
  })

  it('with maxFiles 1 starts over instead of keeping old files', async () => {
    const f = new RotatingLogFile(dir, 'a1', { maxBytes: 10, maxFiles: 1 })
    f.write('12345678')
    f.write('abcdefgh')
    await f.close()
    expect(readdirSync(dir)).toEqual(['a1.log'])
    expect(readFileSync(join(dir, 'a1.log'), 'utf8')).toBe('abcdefgh\n')
  })

  it('records a write error instead of throwing', async () => {
    const f = new RotatingLogFile(join(dir, 'missing\0dir'), 'a1')
    f.write('x')
    await f.flush()
    expect(f.lastError).toBeInstanceOf(Error)
    await f.close()
  })

  it('rejects nonsense limits', () => {
    expect(() => new RotatingLogFile(dir, 'a1', { maxBytes: 0, maxFiles: 1 })).toThrow(RangeError)
    expect(() => new RotatingLogFile(dir, 'a1', { maxBytes: 1, maxFiles: 0 })).toThrow(RangeError)
  })

  it('removeLogFiles deletes current and rotated files of one agent only', async () => {
    const f = new RotatingLogFile(dir, 'a1', { maxBytes: 5, maxFiles: 3 })
    for (let i = 0; i < 5; i++) f.write(`x${i}`)
    await f.close()
    const other = new RotatingLogFile(dir, 'a10', { maxBytes: 5, maxFiles: 3 })
    other.write('keep')
    await other.close()
    await removeLogFiles(dir, 'a1')
    expect(readdirSync(dir)).toEqual(['a10.log'])
  })
})

describe('readLogTail', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'myntrix-logtail-'))
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('reads the newest lines across the current and the previous file', async () => {
    const f = new RotatingLogFile(dir, 'a1', { maxBytes: 100, maxFiles: 3 })
    for (let i = 0; i < 6; i++) f.write(`2024-01-01T00:00:0${i}.000Z ${i % 2 ? 'stderr' : 'stdout'} msg ${i}`)
    await f.close()
    const tail = await readLogTail(dir, 'a1', 4)
    expect(tail.map((e) => e.line)).toEqual(['msg 2', 'msg 3', 'msg 4', 'msg 5'])
    expect(tail[1]).toEqual({ stream: 'stderr', line: 'msg 3', ts: new Date('2024-01-01T00:00:03.000Z') })
  })

  it('answers an empty list for an agent without files and skips malformed lines', async () => {
    expect(await readLogTail(dir, 'nobody', 10)).toEqual([])
    const f = new RotatingLogFile(dir, 'a1')
    f.write('garbage')
    f.write('2024-01-01T00:00:00.000Z stdout ok line')
    await f.close()
    expect((await readLogTail(dir, 'a1', 10)).map((e) => e.line)).toEqual(['ok line'])
  })
})
