// Restart of an ended transfer from a line, as a new transfer job linked to
// the old one. Shown first (preview), then sent only with an explicit
// confirmation: a restart moves a machine, so nothing is sent by default.
// Who may: an operator who sees the job (another owner's job is 404);
// the job must be a G-code transfer that ended interrupted, failed or cancelled.

import { assertRole, type Principal } from '../../auth/principal.js'
import { ConflictError, NotFoundError, UnprocessableError } from '../../errors.js'
import type { Job, JobsService } from '../jobs/service.js'
import { startedByOf } from '../jobs/started-by.js'
import type { BlobStore } from './blob-store.js'
import type { TransferCheckpoint } from './checkpoint.js'
import type { DevicesPort, TransferDevice } from './ports.js'
import type { DeviceFile } from './repository.js'
import { MACHINE_KINDS, planRestart, type RestartPlan } from './restart.js'
import type { DeviceFilesService } from './service.js'
import { TRANSFER_JOB_TYPE } from './transfer.js'

const RESTARTABLE: readonly Job['status'][] = ['interrupted', 'failed', 'cancelled']

export interface RestartPreview extends RestartPlan {
  jobId: string
  deviceId: string
  fileId: string
  protocol: string
  checkpoint: TransferCheckpoint | null
}

export class TransferRestarts {
  constructor(
    private readonly deps: {
      jobs: JobsService
      devices: DevicesPort
      files: DeviceFilesService
      store: BlobStore
    },
  ) {}

  async preview(principal: Principal, jobId: string, fromLine?: number): Promise<RestartPreview> {
    const { preview } = await this.prepare(principal, jobId, fromLine)
    return preview
  }

  async restart(
    principal: Principal,
    jobId: string,
    fromLine?: number,
  ): Promise<{ job: Job; preview: RestartPreview }> {
    assertRole(principal, 'operator', 'restart jobs')
    const { preview, device, file } = await this.prepare(principal, jobId, fromLine)
    const log = [
      `restart of job ${jobId} by ${principal.username} from line ${preview.fromLine}` +
        (preview.checkpoint ? ` (checkpoint: line ${preview.checkpoint.lastAckedLine})` : ''),
      `preamble (${preview.preamble.lines.length} lines, sent before line ${preview.fromLine}):`,
      ...preview.preamble.lines.map((l) => `  ${l}`),
      ...preview.preamble.warnings.map((w) => `warning: ${w}`),
    ].join('\n')
    const job = await this.deps.files.startTransfer(
      device,
      file,
      { jobId, plan: preview, log },
      undefined,
      startedByOf(principal),
    )
    return { job, preview }
  }

  private async prepare(
    principal: Principal,
    jobId: string,
    fromLine: number | undefined,
  ): Promise<{ preview: RestartPreview; device: TransferDevice; file: DeviceFile }> {
    const job = await this.deps.jobs.getFor(principal, jobId)
    if (job.type !== TRANSFER_JOB_TYPE) {
      throw new UnprocessableError(
        `job ${jobId} is a ${job.type} job; only ${TRANSFER_JOB_TYPE} jobs restart`,
      )
    }
    if (!RESTARTABLE.includes(job.status)) {
      throw new ConflictError(`job ${jobId} is ${job.status}; only ${RESTARTABLE.join(', ')} jobs restart`)
    }
    const deviceId = String(job.details?.deviceId ?? '')
    const fileId = String(job.details?.fileId ?? '')
    const device = await this.deps.devices.get(principal, deviceId)
    const file = await this.deps.files.repository.get(deviceId, fileId)
    if (!file) throw new NotFoundError('file', fileId)
    if (!(await this.deps.store.exists(file.sha256))) {
      throw new UnprocessableError(`the stored content of file ${fileId} is missing; upload it again`)
    }
    const protocol = this.deps.devices.protocolOf(device)
    const machine = MACHINE_KINDS[protocol]
    if (file.kind !== 'gcode' || !machine) {
      throw new UnprocessableError(
        `restarting from a line needs a G-code file on a ${Object.keys(MACHINE_KINDS).join(' or ')} device; this is a ${file.kind} file on ${protocol}`,
      )
    }
    const checkpoint = (job.checkpoint as TransferCheckpoint | null) ?? null
    if (fromLine === undefined && !checkpoint) {
      throw new ConflictError(`job ${jobId} has no checkpoint; give fromLine`)
    }
    const plan = await planRestart(
      this.deps.store,
      file,
      machine,
      fromLine ?? (checkpoint?.lastAckedLine ?? 0) + 1,
    )
    return { preview: { jobId, deviceId, fileId, protocol, checkpoint, ...plan }, device, file }
  }
}
