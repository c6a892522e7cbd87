// A file stream holds a device's command queue for its whole run and drives
// the protocol itself (several lines in flight for GRBL's character counting,
// one for Marlin). Commands queued meanwhile wait and are let through between
// two lines (runQueued); real-time commands never wait. The session's taps end
// with it.

import type { CommandQueue } from './command-queue.js'
import type { CommandOptions, CommandResult, Protocol, ProtocolEvent } from './protocols/types.js'

export type LineTap = (line: string, events: ProtocolEvent[]) => void

/** What a stream holding the queue may do. */
export interface ExclusiveSession {
  readonly protocol: Protocol
  command(text: string, options?: CommandOptions): Promise<CommandResult>
  writeRealtime(data: Buffer): Promise<void>
  /**
   * Raw bytes for a streamer with several lines in flight (GRBL character
   * counting); `logLines` go to the log feed, one entry each (several lines
   * may go out in one write).
   */
  write(data: Buffer, logLines?: string | readonly string[]): Promise<void>
  /** Every inbound line with the protocol's reading of it, while the session lasts. Returns the unsubscribe. */
  onLine(listener: LineTap): () => void
  /** Called if the link drops or is disconnected while the session lasts. Returns the unsubscribe. */
  onClose(listener: (reason: Error) => void): () => void
  /** Commands that queued up behind the session. */
  readonly queuedCount: number
  /** Runs the queued commands now, between two lines of a stream, and resolves when they are done. */
  runQueued(): Promise<void>
}

/** The parts of the connection a session is made of. */
export interface SessionParts {
  protocol: Protocol
  queue: CommandQueue
  lineTaps: Set<LineTap>
  closeTaps: Set<(reason: Error) => void>
  /** Runs a command in step with the replies, without queueing (the session holds the queue). */
  command(text: string, options?: CommandOptions): Promise<CommandResult>
  writeRaw(data: Buffer, quiet: boolean): Promise<void>
  log(line: string): void
}

/** Runs `work` with a session over `parts`; its taps are removed when it ends, however it ends. */
export async function exclusiveSession<T>(
  parts: SessionParts,
  work: (session: ExclusiveSession) => Promise<T>,
): Promise<T> {
  const taps: (() => void)[] = []
  const tap = <L>(set: Set<L>, listener: L) => {
    set.add(listener)
    const off = () => set.delete(listener)
    taps.push(off)
    return off
  }
  const { queue } = parts
  try {
    return await work({
      protocol: parts.protocol,
      command: (text, options) => parts.command(text, options),
      writeRealtime: (data) => parts.writeRaw(data, false),
      write: async (data, logLines) => {
        if (typeof logLines === 'string') parts.log(logLines)
        else if (logLines) for (const line of logLines) parts.log(line)
        await parts.writeRaw(data, true)
      },
      onLine: (listener) => tap(parts.lineTaps, listener),
      onClose: (listener) => tap(parts.closeTaps, listener),
      get queuedCount() {
        return queue.length
      },
      runQueued: () => queue.runQueued(),
    })
  } finally {
    for (const off of taps) off()
  }
}
