import { describe, expect, it } from 'vitest'
import { ConfigError, ValidationError } from '../../../src/errors.js'
import {
  assertExtensionAllowed,
  DEFAULT_EXTENSION_POLICY,
  fileKindOf,
  parseExtensionPolicy,
} from '../../../src/modules/device-files/extensions.js'

describe('extension policy', () => {
  it('lets G-code go to marlin and grbl, firmware images to raw devices', () => {
    const p = DEFAULT_EXTENSION_POLICY
    for (const name of ['a.gcode', 'a.gco', 'a.g', 'a.nc', 'A.GCODE']) {
      expect(() => assertExtensionAllowed(p, 'marlin', name)).not.toThrow()
      expect(() => assertExtensionAllowed(p, 'grbl', name)).not.toThrow()
    }
    expect(() => assertExtensionAllowed(p, 'line', 'fw.hex')).not.toThrow()
    expect(() => assertExtensionAllowed(p, 'mqtt', 'fw.bin')).not.toThrow()
  })

  it('answers a 400 naming what is allowed', () => {
    try {
      assertExtensionAllowed(DEFAULT_EXTENSION_POLICY, 'marlin', 'fw.bin')
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).errors?.[0]?.path).toBe('file')
      expect((err as Error).message).toContain('.gcode')
    }
    expect(() => assertExtensionAllowed(DEFAULT_EXTENSION_POLICY, 'marlin', 'noext')).toThrow(ValidationError)
    expect(() => assertExtensionAllowed(DEFAULT_EXTENSION_POLICY, 'jsonl', 'a.gcode')).toThrow(
      ValidationError,
    )
    expect(() => assertExtensionAllowed(DEFAULT_EXTENSION_POLICY, 'unknown', 'a.gcode')).toThrow(
      ValidationError,
    )
  })

  it('takes overrides per protocol and keeps the defaults of the others', () => {
    const p = parseExtensionPolicy('marlin=gcode, .TXT ; line=.bin')
    expect(p.marlin).toEqual(['.gcode', '.txt'])
    expect(p.line).toEqual(['.bin'])
    expect(p.grbl).toEqual(DEFAULT_EXTENSION_POLICY.grbl)
  })

  it.each(['marlin', '=.gcode', 'marlin=.g/code', 'Mar lin=.g'])('rejects the setting %j', (bad) => {
    expect(() => parseExtensionPolicy(bad)).toThrow(ConfigError)
  })

  it('classifies G-code by extension, everything else as raw', () => {
    expect(fileKindOf('x.NC')).toBe('gcode')
    expect(fileKindOf('x.hex')).toBe('raw')
  })
})
