// Keeping replies in step with commands. Marlin and GRBL have no correlation
// ids: a reply belongs to the oldest command that has none yet. Two events
// break that pairing, and the connection handles both with a probe (a command
// whose reply holds a line no other command produces, see SyncProbe):
//
// - A timeout: the command's reply may still come. Before the next command the
//   connection sends the probe and drops every completion before its marker.
//   When the probe cannot confirm (no marker within the time allowed: a
//   firmware that answers the probe with a bare `ok`), the link falls back to
//   the probe's fallback commands (Marlin `M110 N0`) and waits until the
//   firmware has been quiet for a while (QuietWindow), then carries on with a
//   warning. The link is never left refusing commands.
// - A reset banner while a command is in flight: the command may have been
//   flushed by the reset or taken just after it. The probe goes out at once
//   (ResetProbe); a completion before its marker is the command's own, and if
//   none came by the marker, the reset lost the command. So a motion command
//   the firmware took is never reported lost, and no command is handed another
//   command's reply.

import type { CommandResult, SyncProbe } from './protocols/types.js'

/**
 * Resolves once no line has arrived for `quietMs` (`'quiet'`), or after
 * `limitMs` whatever arrives (`'limit'`: a firmware that keeps talking, such as
 * one printing `busy:` for a command that never ends).
 */
export class QuietWindow {
  readonly settled: Promise<'quiet' | 'limit'>
  private resolve!: (how: 'quiet' | 'limit') => void
  private reject!: (err: Error) => void
  private quietTimer: NodeJS.Timeout
  private readonly limitTimer: NodeJS.Timeout
  private isDone = false

  constructor(
    private readonly quietMs: number,
    limitMs: number,
  ) {
    this.settled = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // A link that drops before anyone awaits the wait must not raise an unhandled rejection.
    this.settled.catch(() => {})
    this.quietTimer = setTimeout(() => this.finish('quiet'), quietMs)
    this.limitTimer = setTimeout(() => this.finish('limit'), Math.max(limitMs, quietMs))
  }

  /** A line arrived: the quiet period starts again. */
  activity(): void {
    if (this.isDone) return
    clearTimeout(this.quietTimer)
    this.quietTimer = setTimeout(() => this.finish('quiet'), this.quietMs)
  }

  /** The link closed: the wait fails with `reason`. */
  cancel(reason: Error): void {
    if (this.isDone) return
    this.stop()
    this.reject(reason)
  }

  private finish(how: 'quiet' | 'limit'): void {
    if (this.isDone) return
    this.stop()
    this.resolve(how)
  }

  private stop(): void {
    this.isDone = true
    clearTimeout(this.quietTimer)
    clearTimeout(this.limitTimer)
  }
}

/**
 * The probe written right after a reset banner, for the command that was in
 * flight when it arrived. Lines before the marker belong to that command (if
 * it survived the reset); the completion after the marker is the probe's.
 */
export class ResetProbe {
  private isMarkerSeen = false
  /** The command's own completion, held until the probe's completion shows nothing of it is still to come. */
  private held: CommandResult | null = null

  constructor(readonly probe: SyncProbe) {}

  /** Whether `line` is the probe's marker; true once, for the first marker line. */
  takeMarker(line: string): boolean {
    if (this.isMarkerSeen || !this.probe.isMarker(line)) return false
    this.isMarkerSeen = true
    return true
  }

  /** Whether a response line still belongs to the command (it came before its completion and the marker). */
  get wantsResponse(): boolean {
    return !this.isMarkerSeen && this.held === null
  }

  /**
   * A completion arrived. Before the marker it is the command's own and is
   * held (`null`: keep waiting); after it, it is the probe's and the command's
   * outcome is known: its held completion, or `'lost'` when it had none.
   */
  complete(result: CommandResult): CommandResult | 'lost' | null {
    if (!this.isMarkerSeen) {
      this.held ??= result
      return null
    }
    return this.held ?? 'lost'
  }

  /** The command's completion if it came (the probe's may still be on its way). */
  get heldResult(): CommandResult | null {
    return this.held
  }
}
