// Readers and parsers for the Linux /proc files the sampler needs. Parsing is
// split from reading so tests can feed recorded file contents, and the reader
// keeps one file handle per file open: a positional read at offset 0 makes the
// kernel regenerate a /proc file, which saves the open/fstat/close round trips
// (each a libuv thread-pool hop) that fs.readFile would pay every second.

import { type FileHandle, open, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import type { CpuStat, CpuTimes, DiskUsage, LoadAverage, MemInfo, NetCounters } from './types.js'

function parseCpuLine(line: string): CpuTimes {
  // cpuN user nice system idle iowait irq softirq steal guest guest_nice
  // Older kernels print fewer fields; missing ones count as 0. guest and
  // guest_nice are already included in user and nice, so they are skipped.
  const f = line.split(' ').filter((s) => s !== '')
  const n = (i: number) => (i < f.length ? Number(f[i]) || 0 : 0)
  return {
    busy: n(1) + n(2) + n(3) + n(6) + n(7) + n(8),
    idle: n(4) + n(5),
  }
}

/** The `cpu` and `cpuN` lines at the head of /proc/stat; stops at the first other line. */
export function parseProcStat(text: string): CpuStat {
  let total: CpuTimes | null = null
  const cores: CpuTimes[] = []
  let pos = 0
  while (pos < text.length && text.startsWith('cpu', pos)) {
    let end = text.indexOf('\n', pos)
    if (end === -1) end = text.length
    const line = text.slice(pos, end)
    if (line.startsWith('cpu ')) total = parseCpuLine(line)
    else cores.push(parseCpuLine(line))
    pos = end + 1
  }
  if (!total) throw new Error('/proc/stat has no aggregate "cpu" line')
  return { total, cores }
}

const MEMINFO_KEYS = ['MemTotal', 'MemFree', 'MemAvailable', 'Buffers', 'Cached', 'SwapTotal', 'SwapFree']

/** /proc/meminfo values in bytes (the file says kB and means KiB). */
export function parseMeminfo(text: string): MemInfo {
  const found = new Map<string, number>()
  let pos = 0
  while (pos < text.length && found.size < MEMINFO_KEYS.length) {
    let end = text.indexOf('\n', pos)
    if (end === -1) end = text.length
    const colon = text.indexOf(':', pos)
    if (colon !== -1 && colon < end) {
      const key = text.slice(pos, colon)
      if (MEMINFO_KEYS.includes(key)) {
        const value = Number.parseInt(text.slice(colon + 1, end), 10)
        if (Number.isFinite(value)) found.set(key, value * 1024)
      }
    }
    pos = end + 1
  }
  const totalBytes = found.get('MemTotal')
  if (totalBytes === undefined) throw new Error('/proc/meminfo has no MemTotal line')
  const freeBytes = found.get('MemFree') ?? 0
  const buffersBytes = found.get('Buffers') ?? 0
  const cachedBytes = found.get('Cached') ?? 0
  return {
    totalBytes,
    freeBytes,
    // MemAvailable exists since Linux 3.14; before that free + buffers + cache
    // is the usual estimate.
    availableBytes: found.get('MemAvailable') ?? freeBytes + buffersBytes + cachedBytes,
    buffersBytes,
    cachedBytes,
    swapTotalBytes: found.get('SwapTotal') ?? 0,
    swapFreeBytes: found.get('SwapFree') ?? 0,
  }
}

export function parseLoadavg(text: string): LoadAverage {
  const f = text.split(' ')
  const one = Number(f[0])
  const five = Number(f[1])
  const fifteen = Number(f[2])
  if (![one, five, fifteen].every(Number.isFinite)) throw new Error(`/proc/loadavg is malformed: ${text}`)
  return { one, five, fifteen }
}

/** Sum of receive/transmit byte counters over all interfaces but loopback. */
export function parseNetDev(text: string): NetCounters {
  let rxBytes = 0
  let txBytes = 0
  let interfaces = 0
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    // The two header lines contain '|' and no ':'.
    if (colon === -1) continue
    const name = line.slice(0, colon).trim()
    if (name === 'lo') continue
    const f = line
      .slice(colon + 1)
      .split(' ')
      .filter((s) => s !== '')
    // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit bytes.
    const rx = Number(f[0])
    const tx = Number(f[8])
    if (!Number.isFinite(rx) || !Number.isFinite(tx)) continue
    rxBytes += rx
    txBytes += tx
    interfaces++
  }
  return { rxBytes, txBytes, interfaces }
}

/** Disk use of the filesystem holding `path`, computed as `df` does. */
export async function readDiskUsage(path: string): Promise<DiskUsage> {
  const s = await statfs(path)
  const totalBytes = s.blocks * s.bsize
  const usedBytes = (s.blocks - s.bfree) * s.bsize
  const availableBytes = s.bavail * s.bsize
  const denominator = usedBytes + availableBytes
  return {
    path,
    totalBytes,
    usedBytes,
    availableBytes,
    percent: denominator > 0 ? Math.round((usedBytes / denominator) * 10_000) / 100 : 0,
  }
}

interface OpenFile {
  handle: FileHandle
  buffer: Buffer
}

/**
 * Reads files under a /proc root through handles kept open between reads.
 * `root` is '/proc' in production; tests point it at a folder of recorded files.
 */
export class ProcReader {
  private readonly files = new Map<string, Promise<OpenFile>>()
  private closed = false

  constructor(readonly root = '/proc') {}

  async read(name: string): Promise<string> {
    if (this.closed) throw new Error('ProcReader is closed')
    let pending = this.files.get(name)
    if (!pending) {
      pending = open(join(this.root, name), 'r').then((handle) => ({ handle, buffer: Buffer.alloc(4096) }))
      // A failed open is not cached, so a file that appears later is found.
      pending.catch(() => this.files.delete(name))
      this.files.set(name, pending)
    }
    const file = await pending
    for (;;) {
      const { bytesRead } = await file.handle.read(file.buffer, 0, file.buffer.length, 0)
      // A full buffer may mean a truncated file: grow and read the whole file
      // again from 0 so the content is one consistent snapshot.
      if (bytesRead < file.buffer.length) return file.buffer.toString('latin1', 0, bytesRead)
      file.buffer = Buffer.alloc(file.buffer.length * 2)
    }
  }

  /** Closes every handle; idempotent. */
  async close(): Promise<void> {
    this.closed = true
    const files = [...this.files.values()]
    this.files.clear()
    await Promise.all(
      files.map(async (pending) => {
        try {
          await (await pending).handle.close()
        } catch {
          // Never opened or already closed: nothing to release.
        }
      }),
    )
  }
}
