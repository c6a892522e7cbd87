import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../../src/errors.js'
import { extensionOf, sanitizeFilename } from '../../../src/modules/device-files/filename.js'

describe('sanitizeFilename', () => {
  it('keeps only the base name of a traversal path', () => {
    expect(sanitizeFilename('../../etc/passwd')).toBe('passwd')
    expect(sanitizeFilename('..\\..\\windows\\win.ini')).toBe('win.ini')
    expect(sanitizeFilename('/abs/path/part.gcode')).toBe('part.gcode')
  })

  it('removes control characters and bidi overrides', () => {
    expect(sanitizeFilename('pa\u0000rt\n.gcode')).toBe('part.gcode')
    expect(sanitizeFilename('evil\u202Eedocg.exe')).toBe('eviledocg.exe')
    expect(sanitizeFilename('a\u007fb.g')).toBe('ab.g')
  })

  it('removes leading dots so no hidden or relative name survives', () => {
    expect(sanitizeFilename('.hidden.gcode')).toBe('hidden.gcode')
    expect(sanitizeFilename('...x.nc')).toBe('x.nc')
  })

  it('replaces characters that are special in shells and other file systems', () => {
    expect(sanitizeFilename('a<b>c:d"e|f?g*.gcode')).toBe('a_b_c_d_e_f_g_.gcode')
  })

  it('shortens long names and keeps the extension', () => {
    const name = sanitizeFilename(`${'x'.repeat(500)}.gcode`)
    expect(name.length).toBe(200)
    expect(name.endsWith('.gcode')).toBe(true)
  })

  it.each(['', '..', '../', '/', '\u0001\u0002', '...', '  '])('rejects %j', (bad) => {
    expect(() => sanitizeFilename(bad)).toThrow(ValidationError)
  })

  it('reads the extension in lower case', () => {
    expect(extensionOf('PART.GCODE')).toBe('.gcode')
    expect(extensionOf('noext')).toBe('')
    expect(extensionOf('archive.tar.gz')).toBe('.gz')
  })
})
