// Per-agent log file with size-based rotation: <dir>/<agentId>.log is the current
// file, .log.1 the previous, up to .log.<maxFiles-1>. Lines are batched and written
// asynchronously, so a chatty agent does not block the event loop per line.

import { mkdirSync } from 'node:fs'
import { type FileHandle, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface LogFileOptions {
  /** Rotate when the current file would exceed this many bytes. */
  maxBytes: number
  /** Files kept in total, the current one included. */
  maxFiles: number
}

export const DEFAULT_LOG_FILE_OPTIONS: LogFileOptions = { maxBytes: 10 * 1024 * 1024, maxFiles: 3 }

export function logFilePath(dir: string, agentId: string, index = 0): string {
  return join(dir, index === 0 ? `${agentId}.log` : `${agentId}.log.${index}`)
}

export class RotatingLogFile {
  private handle: FileHandle | null = null
  private size = 0
  private queue: string[] = []
  private flushing: Promise<void> | null = null
  private closed = false
  /** The last write error, kept so a broken disk shows up in status, not as a crash. */
  lastError: Error | null = null

  constructor(
    private readonly dir: string,
    private readonly agentId: string,
    private readonly options: LogFileOptions = DEFAULT_LOG_FILE_OPTIONS,
  ) {
    if (options.maxBytes < 1) throw new RangeError(`maxBytes must be >= 1, got ${options.maxBytes}`)
    if (options.maxFiles < 1) throw new RangeError(`maxFiles must be >= 1, got ${options.maxFiles}`)
  }

  get path(): string {
    return logFilePath(this.dir, this.agentId)
  }

  write(line: string): void {
    if (this.closed) return
    this.queue.push(line)
    if (!this.flushing) this.flushing = this.drain()
  }

  /** Resolves when everything written so far is on disk. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing
  }

  async close(): Promise<void> {
    this.closed = true
    await this.flush()
    await this.handle?.close()
    this.handle = null
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue
        this.queue = []
        for (const line of batch) {
          const data = Buffer.from(`${line}\n`)
          if (this.handle === null) await this.openCurrent()
          if (this.size > 0 && this.size + data.length > this.options.maxBytes) await this.rotate()
          await this.handle!.write(data)
          this.size += data.length
        }
      }
    } catch (err) {
      this.lastError = err as Error
      this.queue = []
    } finally {
      this.flushing = null
    }
  }

  private async openCurrent(): Promise<void> {
    mkdirSync(this.dir, { recursive: true })
    this.handle = await open(this.path, 'a')
    this.size = (await this.handle.stat()).size
  }

  private async rotate(): Promise<void> {
    await this.handle?.close()
    this.handle = null
    const last = this.options.maxFiles - 1
    if (last === 0) {
      await rm(this.path, { force: true })
    } else {
      await rm(logFilePath(this.dir, this.agentId, last), { force: true })
      for (let i = last - 1; i >= 0; i--) {
        const from = logFilePath(this.dir, this.agentId, i)
        if (await exists(from)) await rename(from, logFilePath(this.dir, this.agentId, i + 1))
      }
    }
    await this.openCurrent()
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/** Deletes an agent's log files (current and rotated). */
export async function removeLogFiles(dir: string, agentId: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  const own = new RegExp(`^${agentId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.log(\\.\\d+)?$`)
  await Promise.all(names.filter((n) => own.test(n)).map((n) => rm(join(dir, n), { force: true })))
}

export interface FileLogEntry {
  stream: 'stdout' | 'stderr'
  line: string
  ts: Date
}

/** Parses one line as written by the supervisor: `<ISO ts> <stream> <text>`. */
export function parseLogLine(text: string): FileLogEntry | null {
  const a = text.indexOf(' ')
  const b = text.indexOf(' ', a + 1)
  if (a < 0 || b < 0) return null
  const stream = text.slice(a + 1, b)
  const ts = new Date(text.slice(0, a))
  if ((stream !== 'stdout' && stream !== 'stderr') || Number.isNaN(ts.getTime())) return null
  return { stream, line: text.slice(b + 1), ts }
}

/**
 * The newest `n` lines from an agent's log files (current, then the previous one
 * when the current has fewer), oldest first. For history the in-memory buffer no
 * longer has, e.g. after a server restart. Reads at most `maxBytes` per file.
 */
export async function readLogTail(
  dir: string,
  agentId: string,
  n: number,
  maxBytes = 1024 * 1024,
): Promise<FileLogEntry[]> {
  const out: FileLogEntry[] = []
  for (let i = 0; i < 2 && out.length < n; i++) {
    let handle: FileHandle | null = null
    try {
      handle = await open(logFilePath(dir, agentId, i), 'r')
      const size = (await handle.stat()).size
      const start = Math.max(0, size - maxBytes)
      const buf = Buffer.alloc(size - start)
      await handle.read(buf, 0, buf.length, start)
      const lines = buf.toString('utf8').split('\n')
      if (start > 0) lines.shift() // a cut first line
      const parsed = lines.map(parseLogLine).filter((e): e is FileLogEntry => e !== null)
      out.unshift(...parsed.slice(Math.max(0, parsed.length - (n - out.length))))
    } catch {
      break
    } finally {
      await handle?.close()
    }
  }
  return out
}
