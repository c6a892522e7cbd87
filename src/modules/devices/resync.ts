// Getting replies back in step after a timeout. The timed-out command's
// completion may still come, and without correlation ids it would complete the
// next command instead (every later reply one behind). Before the next command
// the protocol's probe goes out (reply-sync.ts describes it); when it cannot
// confirm, the fallback gets the link going anyway. The reply tracker owns the
// command on the wire and asks this what is owed.

import type { CommandResult, SyncProbe } from './protocols/types.js'
import { QuietWindow } from './reply-sync.js'
import type { TrackedLink } from './reply-tracker.js'

/** A resync probe on the wire. */
export interface ProbeInFlight extends SyncProbe {
  /** The command that timed out, for the log. */
  after: string
  /** Whether the marker line arrived: completions before it are late replies. */
  seen: boolean
}

export class Resync {
  /** The first command that timed out since the reply stream was last known in step; null when in step. */
  owed: string | null = null
  /** While a resync falls back: every line is a late reply until the firmware is quiet. */
  draining: { after: string; window: QuietWindow } | null = null

  constructor(
    private readonly link: TrackedLink,
    /** Writes the probe as a quiet command and resolves with its completion. */
    private readonly runProbe: (probe: ProbeInFlight, timeoutMs: number) => Promise<CommandResult>,
  ) {}

  /** The link closed: a fallback waiting for quiet fails with `reason`. */
  cancel(reason: Error): void {
    this.draining?.window.cancel(reason)
  }

  /**
   * After a timeout the timed-out command's completion may still come, and
   * without correlation ids it would complete the next command instead (every
   * later reply one behind). The protocol's probe finds the place again; when
   * it cannot confirm, the fallback below gets the link going anyway.
   */
  async run(timeoutMs: number): Promise<void> {
    const after = this.owed
    if (after === null) return
    const spec = this.link.protocol?.syncProbe?.(after)
    if (!spec) return
    const probe: ProbeInFlight = { ...spec, after, seen: false }
    this.link.log('info', `resynchronising after "${after}" timed out: ${probe.command}`)
    let failure: unknown = null
    try {
      const result = await this.runProbe(probe, timeoutMs)
      if (!probe.seen) failure = new Error(`completed without its marker: ${result.message}`)
    } catch (err) {
      failure = err
    }
    // Cleared meanwhile (a new link): there is nothing left to resync.
    if (this.owed === null) return
    if (!failure && probe.seen) {
      this.owed = null
      this.link.log('info', 'resynchronised')
      return
    }
    const flags = failure as { disconnected?: boolean; canceled?: boolean; message?: string }
    if (flags.disconnected || flags.canceled) throw failure
    await this.fallback(after, spec, flags.message ?? String(failure), timeoutMs)
  }

  /**
   * The probe could not confirm where the replies stand (a firmware that
   * answers it with a bare `ok`, or one that reset meanwhile). Refusing every
   * later command would leave the link unusable, so: send the protocol's
   * fallback commands, take every line as a late reply until the firmware has
   * been quiet for `resyncQuietMs` (at most `limitMs`), and carry on with a
   * warning.
   */
  private async fallback(after: string, spec: SyncProbe, reason: string, limitMs: number): Promise<void> {
    const protocol = this.link.protocol
    if (!protocol) throw this.link.notConnected()
    const steps = spec.fallback ?? []
    const quietMs = this.link.config.resyncQuietMs
    this.link.log(
      'info',
      `the probe "${spec.command}" could not confirm (${reason}); ${steps.length > 0 ? `sending ${steps.join(', ')}, then ` : ''}waiting for ${quietMs} ms of quiet`,
    )
    const window = new QuietWindow(quietMs, limitMs)
    this.draining = { after, window }
    let how: 'quiet' | 'limit'
    try {
      // Not awaited: a write a wedged port never completes must not hold the
      // link past the window's limit. A failed write ends the wait with its error.
      for (const text of steps) {
        this.link
          .writeRaw(Buffer.from(protocol.encode(text), 'latin1'), true)
          .catch((err: Error) => window.cancel(err))
      }
      how = await window.settled
    } finally {
      if (this.draining?.window === window) this.draining = null
    }
    this.owed = null
    this.link.warn(
      `could not confirm that replies are in step after "${after}" timed out (${reason}); ` +
        (how === 'quiet'
          ? `carrying on after ${quietMs} ms of quiet`
          : `the firmware kept talking for ${limitMs} ms; carrying on`) +
        ': a reply that comes later still may be taken for the next command',
    )
  }
}
