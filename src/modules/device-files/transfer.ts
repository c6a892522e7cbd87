// One file going to one device, recorded as a `device-transfer` job. The
// transfer holds the device's wire while it streams; a pause gives the wire
// back (queued and real-time commands flow normally) and a resume takes it
// again where the streamer stopped. A cancel stops at the next line boundary.
// Whatever ends the transfer, the job ends with it: completed, cancelled,
// failed (a line refused, a broken file) or, for G-code, interrupted with its
// checkpoint when something outside the file stopped it (the link dropped,
// the firmware reset, alarmed, halted or went silent, the server stopped).
// An interrupted transfer never carries on by itself: an operator restarts it.

import type { JobsService } from '../jobs/service.js'
import type { CheckpointKeeper } from './checkpoint.js'
import { TransferError } from './errors.js'
import type { DeviceFile } from './repository.js'
import type { StreamControl, Streamer, StreamSession, TransferProgress } from './streamers/types.js'

export const TRANSFER_JOB_TYPE = 'device-transfer'

export interface TransferTarget {
  deviceId: string
  deviceName: string
  protocol: string
  /** Details the job was created with that progress does not change (a restart's restartOf, fromLine). */
  fixedDetails?: Record<string, unknown>
  /** Holds the device's wire for `work`; rejects when the device is not connected. */
  hold<T>(work: (session: StreamSession) => Promise<T>): Promise<T>
  /** The stream stalled (announced on the device's feeds); the job's log gets it too. */
  stalled(jobId: string, message: string): void
  /**
   * The transfer no longer uses the device: called once, before the job's final
   * status is written, so whoever reads that status may send the next file at
   * once (a restart right after `interrupted`, the next print after `completed`).
   */
  released(): void
}

type StopRequest =
  | { kind: 'pause' }
  | { kind: 'cancel'; reason: string }
  | { kind: 'interrupt'; reason: string }
  | null

export class Transfer {
  private stopRequest: StopRequest = null
  private isPausedNow = false
  private wakeFromPause: (() => void) | null = null
  /** Set when the device drops while the transfer does not hold the wire. */
  private dropReason: string | null = null
  private readonly done: Promise<void>
  private resolveDone!: () => void

  constructor(
    readonly jobId: string,
    readonly file: DeviceFile,
    private readonly target: TransferTarget,
    private readonly streamer: Streamer,
    private readonly jobs: JobsService,
    /** G-code transfers keep one; raw files have no line to restart from. */
    private readonly checkpoints: CheckpointKeeper | null = null,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve
    })
  }

  get deviceId(): string {
    return this.target.deviceId
  }

  get isPaused(): boolean {
    return this.isPausedNow
  }

  /** Resolves once the job has its final status. */
  get finished(): Promise<void> {
    return this.done
  }

  /** Streams to the end; never rejects (the job records the outcome). */
  async run(): Promise<void> {
    const control: StreamControl = {
      shouldStop: () => this.stopRequest !== null,
      acknowledged: (line) => this.checkpoints?.acknowledged(line),
      progressed: () => this.report(),
      stalled: (message) => {
        this.target.stalled(this.jobId, message)
        void this.jobs.appendLog(this.jobId, `stalled: ${message}`).catch(() => {})
      },
    }
    try {
      for (;;) {
        const outcome = await this.target.hold((session) => this.streamer.run(session, control))
        if (outcome === 'done') {
          this.letGo()
          await this.jobs.complete(this.jobId, this.details())
          return
        }
        if (await this.endOnRequest()) return
        await this.waitWhilePaused()
        if (await this.endOnRequest()) return
        if (this.dropReason !== null) {
          throw new TransferError(`the device dropped while the transfer was paused: ${this.dropReason}`, {
            disconnected: true,
          })
        }
      }
    } catch (err) {
      const error = TransferError.from(err, 'the transfer failed')
      const last = this.streamer.progress.lastAcknowledged
      const where = last
        ? `; last acknowledged: line ${last.line} "${last.text}"`
        : '; no line was acknowledged'
      // A streamer records the refusal or alarm it stopped on; list each error once.
      const { errors } = this.streamer.progress
      if (!errors.includes(error.message)) errors.push(error.message)
      const message = `${error.message}${this.streamer.progress.totalLines !== null ? where : ''}`
      const details = {
        ...this.details(),
        // An operator's disconnect (or the device's removal) cancels the link under the transfer: for
        // the job it is the link going away like any other, and it restarts from its checkpoint.
        reason:
          error.disconnected || error.canceled
            ? 'disconnected'
            : error.timedOut
              ? 'timeout'
              : error.firmware
                ? 'firmware'
                : 'error',
      }
      const isOutsideTheFile = error.disconnected || error.canceled || error.timedOut || error.machineStopped
      this.letGo()
      const ended =
        this.checkpoints && isOutsideTheFile
          ? this.jobs.interrupt(this.jobId, message, details, { ...this.checkpoints.current() })
          : this.jobs.fail(this.jobId, message, details)
      await ended.catch(() => {})
    } finally {
      this.letGo()
      this.checkpoints?.stop()
      this.streamer.close()
      this.isPausedNow = false
      this.resolveDone()
    }
  }

  /** Stops sending after the line in flight; the wire is released until resume(). */
  pause(): void {
    if (this.stopRequest === null) this.stopRequest = { kind: 'pause' }
  }

  resume(): void {
    if (this.stopRequest?.kind === 'pause') this.stopRequest = null
    this.wakeFromPause?.()
  }

  /** Stops at the next line boundary and resolves once the job is finished. */
  async cancel(reason: string): Promise<void> {
    this.stopRequest = { kind: 'cancel', reason }
    this.wakeFromPause?.()
    await this.done
  }

  /**
   * Stops at the next line boundary and ends the job `interrupted` with its
   * checkpoint (the server is stopping); a raw transfer, which has no line to
   * restart from, is cancelled instead.
   */
  async interrupt(reason: string): Promise<void> {
    this.stopRequest = this.checkpoints ? { kind: 'interrupt', reason } : { kind: 'cancel', reason }
    this.wakeFromPause?.()
    await this.done
  }

  /** The device's link dropped; a transfer holding the wire learns it from the session itself. */
  deviceDropped(reason: string): void {
    this.dropReason = reason
    if (this.isPausedNow) this.wakeFromPause?.()
  }

  /** Ends the job for a cancel or an interrupt asked for; true when it did. */
  private async endOnRequest(): Promise<boolean> {
    const request = this.stopRequest
    if (request?.kind === 'cancel') {
      this.letGo()
      await this.jobs.markCancelled(this.jobId, request.reason, this.details())
      return true
    }
    if (request?.kind === 'interrupt' && this.checkpoints) {
      this.letGo()
      await this.jobs.interrupt(this.jobId, request.reason, this.details(), {
        ...this.checkpoints.current(),
      })
      return true
    }
    return false
  }

  private hasLetGo = false

  private letGo(): void {
    if (this.hasLetGo) return
    this.hasLetGo = true
    this.target.released()
  }

  private async waitWhilePaused(): Promise<void> {
    if (this.stopRequest?.kind !== 'pause') return
    this.isPausedNow = true
    this.checkpoints?.saveNow()
    this.report()
    await new Promise<void>((resolve) => {
      this.wakeFromPause = resolve
      // resume() may have run between the stream stopping and this wait.
      if (this.stopRequest?.kind !== 'pause' || this.dropReason !== null) resolve()
    })
    this.wakeFromPause = null
    this.isPausedNow = false
    this.report()
  }

  private report(): void {
    this.jobs.progress(this.jobId, percent(this.streamer.progress), this.details())
  }

  details(): Record<string, unknown> {
    const p: TransferProgress = this.streamer.progress
    return {
      ...this.target.fixedDetails,
      deviceId: this.target.deviceId,
      deviceName: this.target.deviceName,
      protocol: this.target.protocol,
      fileId: this.file.id,
      fileName: this.file.name,
      sha256: this.file.sha256,
      totalLines: p.totalLines,
      totalBytes: p.totalBytes,
      linesSent: p.linesSent,
      linesAcknowledged: p.linesAcknowledged,
      bytesSent: p.bytesSent,
      bytesAcknowledged: p.bytesAcknowledged,
      resends: p.resends,
      lastAcknowledgedLine: p.lastAcknowledged?.line ?? null,
      lastAcknowledgedText: p.lastAcknowledged?.text ?? null,
      paused: this.isPausedNow,
      errors: p.errors.slice(-20),
    }
  }
}

export function percent(p: TransferProgress): number {
  if (p.totalLines !== null) return p.totalLines === 0 ? 100 : (100 * p.linesAcknowledged) / p.totalLines
  return p.totalBytes === 0 ? 100 : (100 * p.bytesAcknowledged) / p.totalBytes
}
