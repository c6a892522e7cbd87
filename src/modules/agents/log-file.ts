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
