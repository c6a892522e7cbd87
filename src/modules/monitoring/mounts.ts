// Mount points of this host, from /proc/self/mounts (what `df` lists), for
// disk.percent rules that name a mount. Only a path that is a mount point
// counts: statfs of a plain directory would quietly answer for its parent's
// filesystem, so a rule naming /data where /data is not mounted would watch
// the root filesystem instead.

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The mount points of a mounts file (field 2, with the kernel's octal escapes undone), in order, once each. */
export function parseMountPoints(text: string): string[] {
  const points = new Set<string>()
  for (const line of text.split('\n')) {
    const field = line.split(' ')[1]
    if (!field) continue
    points.add(
      field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    )
  }
  return [...points]
}

/** A mount point as rules store it: absolute, no trailing slash (but "/"), no `.` or `..` parts. */
export function normalizeMountPoint(path: string): string | null {
  if (!path.startsWith('/') || path.includes('\0')) return null
  const parts = path.split('/').filter((p) => p !== '')
  if (parts.some((p) => p === '.' || p === '..')) return null
  return `/${parts.join('/')}`
}

export async function listMountPoints(procRoot = '/proc'): Promise<string[]> {
  return parseMountPoints(await readFile(join(procRoot, 'self/mounts'), 'utf8'))
}
