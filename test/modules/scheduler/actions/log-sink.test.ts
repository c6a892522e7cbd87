import { describe, expect, it } from 'vitest'
import { createLogSink } from '../../../../src/modules/scheduler/actions/index.js'

describe('log sink', () => {
  it('keeps everything under the cap', () => {
    const log = createLogSink({ maxChars: 100 })
    log.line('one')
    log.write('two')
    log.write(' three\n')
    expect(log.text()).toBe('one\ntwo three\n')
    expect(log.truncated).toBe(false)
  })

  it('keeps the head and the most recent tail with a marker that counts what was dropped', () => {
    const log = createLogSink({ maxChars: 100 })
    for (let i = 0; i < 1000; i++) log.line(`line ${i}`)
    const text = log.text()
    expect(log.truncated).toBe(true)
    expect(text.startsWith('line 0\nline 1\n')).toBe(true)
    expect(text.endsWith('line 999\n')).toBe(true)
    const m = /\[\.\.\. (\d+) characters truncated \.\.\.\]/.exec(text)
    expect(m).not.toBeNull()
    const total = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('').length
    expect(Number(m?.[1])).toBe(total - 100)
    expect(log.droppedChars).toBe(total - 100)
  })

  it('passes every write to onWrite, even past the cap', () => {
    const seen: string[] = []
    const log = createLogSink({ maxChars: 64, onWrite: (t) => seen.push(t) })
    for (let i = 0; i < 50; i++) log.write('0123456789')
    expect(seen).toHaveLength(50)
  })

  it('raises a too-small cap to 64', () => {
    const log = createLogSink({ maxChars: 1 })
    log.write('x'.repeat(64))
    expect(log.truncated).toBe(false)
  })
})
