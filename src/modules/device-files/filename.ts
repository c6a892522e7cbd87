// The client's filename is only a label: it never becomes a path (files are
// stored by content hash). Still, it is shown in the dashboard and in
// Content-Disposition headers, so it is reduced to a safe base name.

import { ValidationError } from '../../errors.js'

export const MAX_FILENAME_LENGTH = 200

/**
 * The last path segment of `name` with control characters, path separators
 * and leading dots removed. `../../etc/passwd` becomes `passwd`. Throws a 400
 * when nothing usable is left.
 */
export function sanitizeFilename(name: string): string {
  const original = name
  // Windows clients send `C:\dir\file.gcode`; both separators end a segment.
  const segments = name.split(/[\\/]/)
  let base = segments.at(-1) ?? ''
  base = base.normalize('NFC')
  // C0, DEL and C1 controls, plus bidi overrides that disguise extensions.
  base = base.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '')
  base = base.replace(/[<>:"|?*]/g, '_')
  base = base.trim().replace(/^\.+/, '').trim()
  if (base.length > MAX_FILENAME_LENGTH) {
    const dot = base.lastIndexOf('.')
    const ext = dot > 0 && base.length - dot <= 16 ? base.slice(dot) : ''
    base = base.slice(0, MAX_FILENAME_LENGTH - ext.length) + ext
  }
  if (base === '' || base === '.' || base === '..') {
    throw new ValidationError(`file name ${JSON.stringify(original)} has no usable name`, [
      { path: 'file', message: `file name must contain a base name, got ${JSON.stringify(original)}` },
    ])
  }
  return base
}

/** The lower-case extension with its dot (`.gcode`), or '' when there is none. */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.')
  return dot > 0 ? name.slice(dot).toLowerCase() : ''
}
