// What is recorded about a child process so that a later server can recognise it
// (orphan recovery, see orphans.ts): agents and `script` task runs both keep it.
//
// A pid alone is not enough: after a while the kernel hands the same number to an
// unrelated process. /proc/<pid>/stat field 22 (start time in clock ticks after boot)
// together with the boot id names exactly one process.

import { readBootId, readProcStat } from './proc.js'

export interface ProcessIdentity {
  pid: number
  /** /proc/<pid>/stat field 22 (clock ticks after boot); null where /proc is missing. */
  startTicks: number | null
  bootId: string | null
}

/** The identity of a process that runs now (read right after spawn). */
export function identify(pid: number, bootId: string | null = readBootId()): ProcessIdentity {
  return { pid, startTicks: readProcStat(pid)?.startTicks ?? null, bootId }
}

/** The `pid_start_time` column: "<startTicks>@<bootId>", so a record from another boot never matches. */
export function encodeStartTime(identity: ProcessIdentity | null): string | null {
  if (!identity || identity.startTicks === null) return null
  return identity.bootId ? `${identity.startTicks}@${identity.bootId}` : String(identity.startTicks)
}

/** The `pid` and `pid_start_time` columns back into an identity (null without a pid). */
export function decodeProcess(pid: unknown, text: string | null): ProcessIdentity | null {
  const p = pid === null || pid === undefined ? null : Number(pid)
  if (p === null || !Number.isInteger(p)) return null
  if (!text) return { pid: p, startTicks: null, bootId: null }
  const at = text.indexOf('@')
  const ticks = Number(at < 0 ? text : text.slice(0, at))
  return {
    pid: p,
    startTicks: Number.isFinite(ticks) ? ticks : null,
    bootId: at < 0 ? null : text.slice(at + 1),
  }
}
