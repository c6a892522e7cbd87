// Which OS user runs the programs Myntrix starts (agents, script tasks).
//
// Leaving secrets out of a child's environment is not enough on its own: a
// child running as the server's user can read /proc/<server pid>/environ (the
// server's start-up environment, MYNTRIX_* secrets included) and the data
// directory (jwt-secret, the SQLite file). Running children as another user
// closes both: /proc/<pid>/environ of another user's process is unreadable,
// and the data directory is kept at mode 0700, owned by the server's user.
//
// So a server running as root runs its children as `nobody` unless
// MYNTRIX_CHILD_USER names another user; root children need
// MYNTRIX_CHILD_USER=root, said explicitly. Where children do share the
// server's user (that, or a non-root server without a separate child user),
// only admins may decide what they run (agents service, scheduler service).

import fs from 'node:fs'
import { ConfigError } from '../errors.js'

export interface ChildUser {
  uid: number
  gid: number
  name: string
  home: string | null
}

/** Used when the server runs as root and MYNTRIX_CHILD_USER is not set. */
export const DEFAULT_CHILD_USER = 'nobody'
/** nobody's ids on Debian and most distributions, if /etc/passwd has no such line. */
const NOBODY_IDS = { uid: 65534, gid: 65534 }

function lookup(name: string, passwdFile: string): ChildUser | undefined {
  let passwd = ''
  try {
    passwd = fs.readFileSync(passwdFile, 'utf8')
  } catch {}
  for (const line of passwd.split('\n')) {
    const [n, , uid, gid, , home] = line.split(':')
    if (n === name && /^\d+$/.test(uid ?? '') && /^\d+$/.test(gid ?? '')) {
      return { uid: Number(uid), gid: Number(gid), name, home: home || null }
    }
  }
  return undefined
}

/**
 * The user children run as, or undefined when they run as the server's own user
 * (`serverUid`): `value` is MYNTRIX_CHILD_USER, a name from passwd or `uid:gid`.
 * Unset on a root server means `nobody`; a value naming the server's own user
 * (`root` on a root server) means the server's user.
 */
export function resolveChildUser(
  value: string | undefined,
  serverUid: number | null = process.getuid?.() ?? null,
  passwdFile = '/etc/passwd',
): ChildUser | undefined {
  const v = value?.trim()
  if (!v) {
    if (serverUid !== 0) return undefined
    return lookup(DEFAULT_CHILD_USER, passwdFile) ?? { ...NOBODY_IDS, name: DEFAULT_CHILD_USER, home: null }
  }
  const numeric = /^(\d+):(\d+)$/.exec(v)
  const user = numeric
    ? { uid: Number(numeric[1]), gid: Number(numeric[2]), name: v, home: null }
    : lookup(v, passwdFile)
  if (!user) {
    throw new ConfigError(
      'MYNTRIX_CHILD_USER',
      `must be a user name from ${passwdFile} or uid:gid, got "${v}"`,
    )
  }
  return user.uid === serverUid ? undefined : user
}

/** spawn() options that switch to the child user (none when they share the server's). */
export function spawnIdentity(user: ChildUser | undefined): { uid?: number; gid?: number } {
  return user ? { uid: user.uid, gid: user.gid } : {}
}

/** Where a child starts and what HOME it gets. */
export interface ChildWorkspace {
  /** The working directory when none is configured, and the base of a relative one. */
  cwd: string
  home: string | undefined
}

/**
 * A child running as another user cannot use the server's working directory or
 * HOME (often /root, mode 0700). It starts in its own home when that exists (a
 * dedicated user made with --create-home), otherwise in `/`, as a system
 * service does; HOME is what its passwd line says, as after `su`.
 */
export function childWorkspace(
  user: ChildUser | undefined,
  server: { cwd: string; home: string | undefined } = { cwd: process.cwd(), home: process.env.HOME },
): ChildWorkspace {
  if (!user) return server
  const home = user.home && isDirectory(user.home) ? user.home : null
  return { cwd: home ?? '/', home: user.home ?? '/' }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

/**
 * Keeps the data directory (JWT secret, SQLite file, logs, uploads) private to
 * the server's user: created 0700, tightened to 0700 when it is looser. Returns
 * a warning when it belongs to another user (then its mode is that user's call).
 */
export function secureDataDir(
  dir: string,
  serverUid: number | null = process.getuid?.() ?? null,
): string | null {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = fs.statSync(dir)
  if (serverUid !== null && st.uid !== serverUid) {
    return `the data directory ${dir} belongs to uid ${st.uid}, not to the server's user (uid ${serverUid}); make it the server's, mode 0700`
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700)
  return null
}

/**
 * The server's ambient capability set (`CapAmb` in /proc/self/status), as a
 * bit mask; 0n when it has none or the file cannot be read. Ambient
 * capabilities survive both a change to another non-root user and exec, so a
 * server given CAP_SETUID this way (systemd's AmbientCapabilities=) hands it to
 * every agent, which could then make itself root. Start-up warns when it is set.
 */
export function ambientCapabilities(statusText?: string): bigint {
  let text = statusText
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/status', 'utf8')
    } catch {
      return 0n
    }
  }
  const match = /^CapAmb:\s*([0-9a-f]+)$/m.exec(text)
  return match?.[1] ? BigInt(`0x${match[1]}`) : 0n
}
