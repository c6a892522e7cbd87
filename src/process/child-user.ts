// Which OS user runs the programs Myntrix starts (agents, script tasks).
//
// Leaving secrets out of a child's environment is not enough on its own: a
// child running as the server's user can read /proc/<server pid>/environ (the
// server's start-up environment, MYNTRIX_* secrets included) and the data
// directory (jwt-secret, the SQLite file). Running children as another user
// (MYNTRIX_CHILD_USER) closes both: /proc/<pid>/environ of another user's
// process is unreadable, and the data directory is kept at mode 0700.

import fs from 'node:fs'
import { ConfigError } from '../errors.js'

export interface ChildUser {
  uid: number
  gid: number
  name: string
  home: string | null
}

/** Parses `name` (looked up in /etc/passwd) or `uid:gid`; undefined when not set. */
export function resolveChildUser(
  value: string | undefined,
  passwdFile = '/etc/passwd',
): ChildUser | undefined {
  const v = value?.trim()
  if (!v) return undefined
  const numeric = /^(\d+):(\d+)$/.exec(v)
  if (numeric) return { uid: Number(numeric[1]), gid: Number(numeric[2]), name: v, home: null }
  let passwd = ''
  try {
    passwd = fs.readFileSync(passwdFile, 'utf8')
  } catch {}
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid, , home] = line.split(':')
    if (name === v && /^\d+$/.test(uid ?? '') && /^\d+$/.test(gid ?? '')) {
      return { uid: Number(uid), gid: Number(gid), name, home: home || null }
    }
  }
  throw new ConfigError('MYNTRIX_CHILD_USER', `must be a user name from ${passwdFile} or uid:gid, got "${v}"`)
}

/** spawn() options that switch to the child user (none when unset). */
export function spawnIdentity(user: ChildUser | undefined): { uid?: number; gid?: number } {
  return user ? { uid: user.uid, gid: user.gid } : {}
}
