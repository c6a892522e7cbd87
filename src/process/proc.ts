// Readers for Linux /proc, used to measure a whole process tree and to recognise
// a process again after a server restart. No library: one small text file per
// process is all we need, and spawning `ps` per sample would cost far more.

import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'

/** USER_HZ: the unit of utime/stime/starttime in /proc/<pid>/stat. The kernel
 * exports 100 to user space on every mainstream architecture (`getconf CLK_TCK`). */
export const CLOCK_TICKS_PER_SECOND = 100

export interface ProcStat {
  pid: number
  comm: string
  /** R, S, D, Z, T, ... (field 3) */
  state: string
  ppid: number
  pgrp: number
  /** utime + stime + cutime + cstime, in clock ticks. cutime/cstime hold reaped
   * children's time, so the sum over a tree does not drop when a child exits. */
  cpuTicks: number
  /** Start time after boot, in clock ticks (field 22): with the pid, it names one process. */
  startTicks: number
  rssPages: number
}

/** Parses the text of /proc/<pid>/stat. `comm` may itself contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return null
  const f = text
    .slice(close + 2)
    .trim()
    .split(' ')
  if (f.length < 22) return null
  const n = (i: number) => Number(f[i])
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: f[0]!,
    ppid: n(1),
    pgrp: n(2),
    cpuTicks: n(11) + n(12) + n(13) + n(14),
    startTicks: n(19),
    rssPages: n(21),
  }
}

export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'latin1'))
  } catch {
    return null
  }
}

/** Every process on the host, by pid. One pass over /proc (kernels without
 * CONFIG_PROC_CHILDREN, like this one, offer no cheaper way to find children). */
export function readProcTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>()
  let names: string[]
  try {
    names = readdirSync('/proc')
  } catch {
    return table
  }
  for (const name of names) {
    const c = name.charCodeAt(0)
    if (c < 48 || c > 57) continue
    const st = readProcStat(Number(name))
    if (st) table.set(st.pid, st)
  }
  return table
}

/** The root and all its descendants (by ppid), plus anything still in the root's
 * process group (a grandchild orphaned to init keeps its group). Zombies excluded. */
export function processTree(table: Map<number, ProcStat>, rootPid: number, pgid = rootPid): ProcStat[] {
  const children = new Map<number, number[]>()
  for (const st of table.values()) {
    let list = children.get(st.ppid)
    if (!list) {
      list = []
      children.set(st.ppid, list)
    }
    list.push(st.pid)
  }
  const seen = new Set<number>()
  const out: ProcStat[] = []
  const visit = (pid: number) => {
    if (seen.has(pid)) return
    seen.add(pid)
    const st = table.get(pid)
    if (!st) return
    if (st.state !== 'Z') out.push(st)
    for (const c of children.get(pid) ?? []) visit(c)
  }
  visit(rootPid)
  for (const st of table.values()) {
    if (st.pgrp === pgid && !seen.has(st.pid)) visit(st.pid)
  }
  return out
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number, table = readProcTable()): ProcStat[] {
  const out: ProcStat[] = []
  for (const st of table.values()) if (st.pgrp === pgid && st.state !== 'Z') out.push(st)
  return out
}

/** True while any non-zombie process is in the group. A zombie whose parent does
 * not reap it would otherwise keep `kill(-pgid, 0)` succeeding forever. */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
  } catch (err) {
    // EPERM: members exist but belong to someone else; still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  return groupMembers(pgid).length > 0
}

let cachedPageSize: number | undefined

/** Memory page size in bytes (rss in /proc/<pid>/stat is in pages). */
export function pageSizeBytes(): number {
  if (cachedPageSize !== undefined) return cachedPageSize
  cachedPageSize = 4096
  try {
    // The first mapping in smaps names the kernel page size; read only its head.
    const fd = openSync('/proc/self/smaps', 'r')
    try {
      const buf = Buffer.alloc(4096)
      const n = readSync(fd, buf, 0, buf.length, 0)
      const m = /KernelPageSize:\s+(\d+) kB/.exec(buf.toString('latin1', 0, n))
      if (m) cachedPageSize = Number(m[1]) * 1024
    } finally {
      closeSync(fd)
    }
  } catch {
    // keep 4096
  }
  return cachedPageSize
}

/** Changes on every boot; with it a recorded (pid, startTicks) cannot match a process
 * from a different boot, where tick counts start again from zero. */
export function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim()
  } catch {
    return null
  }
}
