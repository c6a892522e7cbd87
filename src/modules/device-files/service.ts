// The device-files rules: upload (sanitised name, allowed extension, size
// limit, content-addressed storage), list and delete a device's files, and
// send a stored file as a tracked `device-transfer` job, one per device.
// Never imports fastify: routes hand over the upload as a plain stream.

import type { Readable } from 'node:stream'
import { assertRole, type Principal } from '../../auth/principal.js'
import { withDates } from '../../cluster/wire-dates.js'
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../../errors.js'
import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import { initialModalState } from '../firmware/modal-state.js'
import type { Job, JobsService } from '../jobs/service.js'
import { startedByOf } from '../jobs/started-by.js'
import type { BlobStore } from './blob-store.js'
import { CheckpointKeeper, type CheckpointPolicy } from './checkpoint.js'
import { assertExtensionAllowed, type ExtensionPolicy, fileKindOf } from './extensions.js'
import { sanitizeFilename } from './filename.js'
import { KeyedLock } from './keyed-lock.js'
import type { DeviceLink, DevicesPort, Restart, TransferDevice } from './ports.js'
import { type DeviceFile, DeviceFilesRepository } from './repository.js'
import { gcodeStreamerFor } from './streamers/index.js'
import { LineCounter } from './streamers/source.js'
import type { StreamerOptions } from './streamers/types.js'
import { TRANSFER_JOB_TYPE, Transfer } from './transfer.js'
import { transferStreamer } from './transfer-streamer.js'

/** What starts a transfer on the device's holder (JSON: it may cross nodes). */
interface TransferStart {
  device: TransferDevice
  fileId: string
  restart?: Restart
  queued?: { jobId: string }
  startedBy: string | null
}

/** A pause, resume or cancel sent to the node that runs the transfer. */
interface TransferAction {
  principal?: Principal
  jobId: string
  reason?: string
}

export interface DeviceFilesServiceOptions {
  db: import('../../db/types.js').Database
  bus: EventBus
  logger: Logger
  jobs: JobsService
  devices: DevicesPort
  store: BlobStore
  maxUploadBytes: number
  extensions: ExtensionPolicy
  streamer: StreamerOptions
  /** When a G-code transfer writes its checkpoint while streaming (and on every state change). */
  checkpoint: CheckpointPolicy
}

export interface UploadInput {
  filename: string
  stream: Readable
  /** Start a transfer at once (default); false only stores the file. */
  send: boolean
}

export class DeviceFilesService {
  readonly repository: DeviceFilesRepository
  /** The transfer using each device, until it lets the device go (before its job's final status). */
  private readonly transfers = new Map<string, Transfer>()
  /** Every transfer until its job has its final status: a stop waits for all of them. */
  private readonly unfinished = new Set<Transfer>()
  /** Devices whose transfer is being set up (its job not yet created). */
  private readonly starting = new Set<string>()
  /** Per content hash: uploads and deletes of one blob run one after another. */
  private readonly blobLocks = new KeyedLock()
  private readonly offBus: (() => void)[] = []
  private isStopped = false

  constructor(private readonly options: DeviceFilesServiceOptions) {
    this.repository = new DeviceFilesRepository(options.db)
    // A transfer runs where the device's connection is: in a cluster, pause, resume and cancel
    // arriving at another node are sent there (the devices service routes them).
    for (const action of ['pause', 'resume'] as const) {
      options.devices.onHolder(`transfer.${action}`, async (p) => {
        const { principal, jobId } = p as TransferAction
        ;(await this.transferOf(principal!, jobId, action))[action]()
        return null
      })
    }
    options.devices.onHolder('transfer.start', (p) => this.startTransferHere(p as TransferStart))
    options.devices.onHolder('transfer.cancel', async (p) => {
      const { jobId, reason } = p as TransferAction
      await this.unfinishedTransfer(jobId)?.cancel(reason ?? 'cancelled')
      return null
    })
  }

  start(): void {
    this.isStopped = false
    this.offBus.push(
      this.options.bus.on('device.status', (e) => {
        if (e.status !== 'connected') this.transfers.get(e.deviceId)?.deviceDropped(e.lastError ?? e.status)
      }),
      this.options.jobs.onCancel(TRANSFER_JOB_TYPE, async (job, reason) => {
        const transfer = this.unfinishedTransfer(job.id)
        if (transfer) await transfer.cancel(reason)
        else await this.atTransferNode(job, 'cancel', { jobId: job.id, reason })
      }),
    )
  }

  /** Removes blobs no row refers to (left by deleted devices) and half-written uploads. */
  async sweep(): Promise<number> {
    const store = this.options.store
    await store.clearTemporary()
    const referenced = await this.repository.referencedHashes()
    let removed = 0
    for (const sha of await store.list()) {
      if (referenced.has(sha)) continue
      await this.blobLocks.run(sha, async () => {
        if (!(await this.repository.isReferenced(sha))) {
          await store.remove(sha)
          removed++
        }
      })
    }
    return removed
  }

  async stop(): Promise<void> {
    this.isStopped = true
    for (const off of this.offBus.splice(0)) off()
    // G-code transfers end `interrupted` with their checkpoint, to be restarted by an operator.
    await Promise.all([...this.unfinished].map((t) => t.interrupt('the server is shutting down')))
  }

  // ---- files ----------------------------------------------------------------

  async upload(
    principal: Principal,
    deviceId: string,
    input: UploadInput,
  ): Promise<{ file: DeviceFile; job: Job | null }> {
    assertRole(principal, 'operator', 'upload files to devices')
    const device = await this.options.devices.get(principal, deviceId)
    const link = this.options.devices.connectionOf(deviceId)
    const name = sanitizeFilename(input.filename)
    assertExtensionAllowed(this.options.extensions, this.options.devices.protocolOf(device), name)
    // Refuse before reading the body, so a doomed upload costs no disk.
    if (input.send) this.assertCanSend(deviceId, link)
    const kind = fileKindOf(name)
    const counter = kind === 'gcode' ? new LineCounter() : null
    const blob = await this.options.store
      .ingest(input.stream, {
        maxBytes: this.options.maxUploadBytes,
        inspect: counter ? (chunk) => counter.push(chunk) : undefined,
      })
      .catch((err: NodeJS.ErrnoException) => {
        // The client went away mid-body: its fault, not ours (and nothing is kept).
        if (
          err.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
          err.code === 'ECONNRESET' ||
          err.message === 'aborted'
        ) {
          throw new ValidationError('the upload ended before the whole file arrived', [
            { path: 'file', message: 'incomplete upload' },
          ])
        }
        throw err
      })
    const file = await this.blobLocks.run(blob.sha256, async () => {
      const recorded = await this.repository.upsert(
        {
          deviceId,
          ownerId: device.ownerId,
          name,
          sha256: blob.sha256,
          sizeBytes: blob.sizeBytes,
          kind,
          lineCount: counter ? counter.end() : null,
        },
        new Date(),
      )
      // A delete of the same content (here, or on another node) may have removed the blob
      // meanwhile. Checked after the row exists: a removal from now on sees the row and keeps it.
      if (!(await this.options.store.exists(blob.sha256))) {
        await this.repository.delete(deviceId, recorded.id)
        throw new ConflictError('the file was removed while it was being uploaded; upload it again')
      }
      return recorded
    })
    const job = input.send
      ? await this.startTransfer(device, file, undefined, undefined, startedByOf(principal))
      : null
    return { file, job }
  }

  async list(
    principal: Principal,
    deviceId: string,
    page: { limit: number; offset: number },
  ): Promise<{ items: DeviceFile[]; total: number }> {
    await this.options.devices.get(principal, deviceId)
    const [items, total] = await this.repository.list(deviceId, page)
    return { items, total }
  }

  async get(principal: Principal, deviceId: string, fileId: string): Promise<DeviceFile> {
    await this.options.devices.get(principal, deviceId)
    const file = await this.repository.get(deviceId, fileId)
    if (!file) throw new NotFoundError('file', fileId)
    return file
  }

  async delete(principal: Principal, deviceId: string, fileId: string): Promise<DeviceFile> {
    assertRole(principal, 'operator', 'delete device files')
    const file = await this.get(principal, deviceId, fileId)
    const transfer = this.transfers.get(deviceId)
    if (transfer && transfer.file.id === fileId) {
      throw new ConflictError(`file ${fileId} is being sent (job ${transfer.jobId}); cancel the job first`)
    }
    await this.blobLocks.run(file.sha256, async () => {
      await this.repository.delete(deviceId, fileId)
      if (!(await this.repository.isReferenced(file.sha256))) await this.options.store.remove(file.sha256)
    })
    return file
  }

  /** `startedBy`: the caller unless a starter of the server's own (the scheduler) says otherwise. */
  async send(
    principal: Principal,
    deviceId: string,
    fileId: string,
    startedBy: string = startedByOf(principal),
  ): Promise<{ file: DeviceFile; job: Job }> {
    assertRole(principal, 'operator', 'send files to devices')
    const device = await this.options.devices.get(principal, deviceId)
    const file = await this.repository.get(deviceId, fileId)
    if (!file) throw new NotFoundError('file', fileId)
    assertExtensionAllowed(this.options.extensions, this.options.devices.protocolOf(device), file.name)
    if (!(await this.options.store.exists(file.sha256))) {
      throw new UnprocessableError(`the stored content of file ${fileId} is missing; upload it again`)
    }
    return { file, job: await this.startTransfer(device, file, undefined, undefined, startedBy) }
  }

  /**
   * The device's row for this file's content (created, pointing at the same
   * blob, when the file was uploaded to another device): a group's queue item
   * runs on whichever member is free.
   */
  async shareWith(deviceId: string, file: DeviceFile): Promise<DeviceFile> {
    if (file.deviceId === deviceId) return file
    return this.blobLocks.run(file.sha256, async () => {
      if (!(await this.options.store.exists(file.sha256))) {
        throw new UnprocessableError(`the stored content of file ${file.id} is missing; upload it again`)
      }
      const { name, sha256, sizeBytes, kind, lineCount, ownerId } = file
      return this.repository.upsert(
        { deviceId, ownerId, name, sha256, sizeBytes, kind, lineCount },
        new Date(),
      )
    })
  }

  // ---- transfers --------------------------------------------------------------

  /** The transfer running on a device, if any. */
  activeTransfer(deviceId: string): Transfer | undefined {
    return this.transfers.get(deviceId)
  }

  async pause(principal: Principal, jobId: string): Promise<Job> {
    return this.pauseOrResume(principal, jobId, 'pause')
  }

  async resume(principal: Principal, jobId: string): Promise<Job> {
    return this.pauseOrResume(principal, jobId, 'resume')
  }

  private async pauseOrResume(principal: Principal, jobId: string, action: 'pause' | 'resume'): Promise<Job> {
    const job = await this.transferJob(principal, jobId, action)
    await this.atTransferNode(job, action, { principal, jobId })
    return this.options.jobs.get(jobId).then((j) => j!)
  }

  /** Runs a transfer action on the node that has the job's device (here on one instance). */
  private async atTransferNode(job: Job, action: string, params: TransferAction): Promise<void> {
    const deviceId = String(job.details?.deviceId ?? '')
    await this.options.devices.atHolder(deviceId, `transfer.${action}`, params)
  }

  private unfinishedTransfer(jobId: string): Transfer | undefined {
    return [...this.unfinished].find((t) => t.jobId === jobId)
  }

  private async transferOf(principal: Principal, jobId: string, action: string): Promise<Transfer> {
    const job = await this.transferJob(principal, jobId, action)
    const transfer = this.unfinishedTransfer(jobId)
    if (!transfer) throw new ConflictError(`job ${jobId} is ${job.status}; it cannot ${action}`)
    return transfer
  }

  private async transferJob(principal: Principal, jobId: string, action: string): Promise<Job> {
    assertRole(principal, 'operator', `${action} jobs`)
    const job = await this.options.jobs.getFor(principal, jobId)
    if (job.type !== TRANSFER_JOB_TYPE) {
      throw new UnprocessableError(
        `job ${jobId} is a ${job.type} job; only ${TRANSFER_JOB_TYPE} jobs can ${action}`,
      )
    }
    return job
  }

  private assertCanSend(deviceId: string, link: DeviceLink | null): void {
    if (this.isStopped) throw new ConflictError('the server is shutting down')
    const active = this.transfers.get(deviceId)
    if (active || this.starting.has(deviceId)) {
      throw new ConflictError(
        `device ${deviceId} is already receiving a file${active ? ` (job ${active.jobId})` : ''}; one transfer per device`,
      )
    }
    if (link?.status !== 'connected') {
      throw new ConflictError(
        `device ${deviceId} is ${link?.status ?? 'disconnected'}; connect it before sending a file`,
      )
    }
  }

  /**
   * Starts a transfer job for the file; with a restart plan, the job continues
   * `restartOf`: its preamble first, then the file from the plan's line.
   * `startedBy`: who asked (jobs/started-by.ts); a queue's job says `queue` from its creation.
   * The transfer runs where the device's connection is: in a cluster a send, upload-and-send
   * or restart arriving at another node starts it on the holder (the file is read from the
   * shared store there); on one instance, here.
   */
  async startTransfer(
    device: TransferDevice,
    file: DeviceFile,
    restart?: Restart,
    /** A queue's pending job, which becomes this transfer's job (409 when it is no longer pending). */
    queued?: { jobId: string },
    startedBy: string | null = null,
  ): Promise<Job> {
    const start: TransferStart = { device, fileId: file.id, restart, queued, startedBy }
    const job = await this.options.devices.atHolder(device.id, 'transfer.start', start)
    return withDates(job as Job, ['createdAt', 'updatedAt', 'startedAt', 'finishedAt'])
  }

  /** startTransfer on the node that has the device's connection. */
  private async startTransferHere(asked: TransferStart): Promise<Job> {
    const { device, restart, queued, startedBy } = asked
    const file = await this.repository.get(device.id, asked.fileId)
    if (!file) throw new NotFoundError('file', asked.fileId)
    const link = this.options.devices.connectionOf(device.id)
    this.assertCanSend(device.id, link)
    const protocol = this.options.devices.protocolOf(device)
    const gcode = file.kind === 'gcode' ? gcodeStreamerFor(protocol) : null
    const start = restart?.plan.start ?? { lastAckedLine: 0, fileOffset: 0, modalState: initialModalState() }
    // Claim the device before the first await, so a second request sees it taken.
    this.starting.add(device.id)
    let job: Job
    let keeper: CheckpointKeeper | null = null
    try {
      const name = `${restart ? 'Restart' : 'Send'} ${file.name} to ${device.name}`
      const details = {
        deviceId: device.id,
        fileId: file.id,
        fileName: file.name,
        protocol,
        ...(restart ? { restartOf: restart.jobId, fromLine: restart.plan.fromLine } : {}),
      }
      const checkpoint = gcode ? { checkpoint: { ...start, at: new Date().toISOString() } } : {}
      job = queued
        ? await this.options.jobs.start(queued.jobId, { details, ...checkpoint })
        : await this.options.jobs.create({
            name: restart ? `${name} from line ${restart.plan.fromLine}` : name,
            type: TRANSFER_JOB_TYPE,
            ownerId: device.ownerId,
            running: true,
            details,
            ...checkpoint,
            ...(restart ? { restartOf: restart.jobId } : {}),
            startedBy,
          })
      if (gcode) {
        const id = job.id
        keeper = new CheckpointKeeper(start, this.options.checkpoint, (checkpoint) =>
          this.options.jobs.saveCheckpoint(id, { ...checkpoint }),
        )
      }
      if (restart) await this.options.jobs.appendLog(job.id, restart.log)
    } catch (err) {
      this.starting.delete(device.id)
      throw err
    }
    const streamer = transferStreamer(device, file, protocol, gcode, restart, this.options)
    const transfer = new Transfer(
      job.id,
      file,
      {
        deviceId: device.id,
        deviceName: device.name,
        protocol,
        ...(restart ? { fixedDetails: { restartOf: restart.jobId, fromLine: restart.plan.fromLine } } : {}),
        hold: (work) => {
          const current = this.options.devices.connectionOf(device.id)
          if (!current) return Promise.reject(new ConflictError(`device ${device.id} is not connected`))
          return current.exclusive(work)
        },
        released: () => {
          if (this.transfers.get(device.id) === transfer) this.transfers.delete(device.id)
        },
        stalled: (jobId, message) => {
          const ts = new Date().toISOString()
          const { bus } = this.options
          bus.emit('device.stalled', { deviceId: device.id, ownerId: device.ownerId, jobId, message, ts })
          bus.emit('device.log', { deviceId: device.id, ts, direction: 'info', line: `stalled: ${message}` })
        },
      },
      streamer,
      this.options.jobs,
      keeper,
    )
    this.transfers.set(device.id, transfer)
    this.unfinished.add(transfer)
    this.starting.delete(device.id)
    void transfer.run().finally(() => this.unfinished.delete(transfer))
    return job
  }
}
