// Which file types a device accepts, by the protocol it speaks. G-code goes to
// firmware that executes it line by line; firmware images and other raw files
// go to devices that take a byte stream (line, jsonl) or messages (mqtt).
// MYNTRIX_UPLOAD_EXTENSIONS overrides per protocol:
//   MYNTRIX_UPLOAD_EXTENSIONS="marlin=.gcode,.gco;grbl=.nc,.gcode;line=.bin"

import { ConfigError, ValidationError } from '../../errors.js'
import { extensionOf } from './filename.js'

export const GCODE_EXTENSIONS = ['.gcode', '.gco', '.g', '.nc'] as const
export const RAW_EXTENSIONS = ['.hex', '.bin'] as const

export type ExtensionPolicy = Record<string, readonly string[]>

export const DEFAULT_EXTENSION_POLICY: ExtensionPolicy = {
  marlin: GCODE_EXTENSIONS,
  grbl: GCODE_EXTENSIONS,
  line: [...GCODE_EXTENSIONS, ...RAW_EXTENSIONS],
  jsonl: RAW_EXTENSIONS,
  mqtt: RAW_EXTENSIONS,
}

export const EXTENSIONS_ENV = 'MYNTRIX_UPLOAD_EXTENSIONS'

/** Parses the override; protocols it does not name keep their defaults. */
export function parseExtensionPolicy(value: string | undefined): ExtensionPolicy {
  const policy: ExtensionPolicy = { ...DEFAULT_EXTENSION_POLICY }
  if (value === undefined || value.trim() === '') return policy
  for (const part of value.split(';')) {
    if (part.trim() === '') continue
    const eq = part.indexOf('=')
    const protocol = part.slice(0, eq).trim().toLowerCase()
    if (eq < 0 || !/^[a-z][a-z0-9-]*$/.test(protocol)) {
      throw new ConfigError(EXTENSIONS_ENV, `expected "protocol=.ext,.ext;...", got "${part.trim()}"`)
    }
    const extensions = part
      .slice(eq + 1)
      .split(',')
      .map((e) => e.trim().toLowerCase())
      .filter(Boolean)
      .map((e) => (e.startsWith('.') ? e : `.${e}`))
    for (const ext of extensions) {
      if (!/^\.[a-z0-9]{1,15}$/.test(ext)) {
        throw new ConfigError(EXTENSIONS_ENV, `extension must be letters and digits, got "${ext}"`)
      }
    }
    policy[protocol] = extensions
  }
  return policy
}

export type FileKind = 'gcode' | 'raw'

/** G-code is streamed line by line; everything else as bytes. */
export function fileKindOf(name: string): FileKind {
  return (GCODE_EXTENSIONS as readonly string[]).includes(extensionOf(name)) ? 'gcode' : 'raw'
}

/** Throws a 400 naming the allowed extensions when `name` is not one of them. */
export function assertExtensionAllowed(policy: ExtensionPolicy, protocol: string, name: string): void {
  const allowed = policy[protocol] ?? []
  const ext = extensionOf(name)
  if (!allowed.includes(ext)) {
    const list = allowed.length > 0 ? allowed.join(' ') : '(none)'
    const message = `a ${protocol} device accepts ${list}, got ${ext === '' ? 'no extension' : ext}`
    throw new ValidationError(`file "${name}" is not allowed: ${message}`, [{ path: 'file', message }])
  }
}
