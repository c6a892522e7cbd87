// Starts queued items on free devices. One pass: end the claims whose job has
// ended (holding the device's queue when the item asked for a confirmation,
// or its job failed or was interrupted), then give each device with a waiting
// item of its own that item, then each group's items, in order, to the first
// free member. A device is free when it is connected, no transfer holds it,
// and its head row is neither claimed nor held. The claim is a conditional
// update of that row, so two passes (here or in another process) never start
// two transfers on one device. Transfers start only through the device-files
// service: it routes them where the device's connection lives.
// Triggered by job ends, a device connecting, items added, continue, start,
// and a slow timer (a reaper may have ended a dead process's job silently).

import { ConflictError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { TransferDevice } from '../device-files/ports.js'
import type { DeviceFile } from '../device-files/repository.js'
import type { JobsService } from '../jobs/service.js'
import type { GroupRepository } from './group-repository.js'
import type { EndedClaim, QueueRepository } from './repository.js'
import type { QueueHold, QueueItem } from './tables.js'

/** What dispatch needs from the devices and device-files services. */
export interface DispatchPorts {
  /** The device as a transfer needs it; undefined when it is gone. */
  device(id: string): Promise<TransferDevice | undefined>
  isConnected(deviceId: string): boolean
  /** A transfer (queued or sent by hand) holds the device. */
  isTransferring(deviceId: string): boolean
  protocolOf(device: TransferDevice): string
  file(deviceId: string, fileId: string): Promise<DeviceFile | undefined>
  /** The device's own row for the file's content. */
  shareWith(deviceId: string, file: DeviceFile): Promise<DeviceFile>
  /** Starts the transfer as the queued job (409 when the job is no longer pending or the device is busy). */
  startTransfer(device: TransferDevice, file: DeviceFile, jobId: string): Promise<void>
  /** The owner may still run work (not disabled, not demoted to viewer). */
  ownerMayRun(ownerId: string): Promise<boolean>
}

/** The hold a device's queue takes when an item's job ends with `status`. */
export function holdAfter(status: string, requireConfirm: boolean): QueueHold | null {
  if (status === 'interrupted') return 'interrupted'
  if (status === 'failed') return 'failed'
  return requireConfirm ? 'confirm' : null
}

export class QueueDispatcher {
  private running: Promise<void> | null = null
  private again = false
  private stopped = false

  constructor(
    private readonly items: QueueRepository,
    private readonly groups: GroupRepository,
    private readonly jobs: JobsService,
    private readonly ports: DispatchPorts,
    private readonly logger: Logger,
  ) {}

  /** Asks for a pass; passes never overlap, and one asked for during a pass runs after it. */
  trigger(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.loop().finally(() => {
      this.running = null
    })
  }

  /** Resolves once no pass runs or is asked for. */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.idle()
  }

  private async loop(): Promise<void> {
    do {
      this.again = false
      try {
        await this.pass()
      } catch (err) {
        this.logger.warn(
          { err: (err as Error).message },
          'queue dispatch pass failed; retrying at the next trigger',
        )
      }
    } while (this.again && !this.stopped)
  }

  /** One pass; answers how many transfers it started. */
  async pass(): Promise<number> {
    for (const claim of await this.items.endedClaims()) await this.endClaim(claim)
    const waiting = await this.items.allWaiting()
    if (waiting.length === 0) return 0
    const taken = new Set<string>()
    let started = 0
    // A device's own queue first: its items wait for that device alone.
    const ownQueues = new Set<string>()
    for (const item of waiting) {
      if (item.deviceId === null || ownQueues.has(item.deviceId)) continue
      ownQueues.add(item.deviceId)
      if (await this.tryStart(item.deviceId, item, taken)) started++
    }
    const groupIds = [...new Set(waiting.flatMap((i) => (i.groupId ? [i.groupId] : [])))]
    const members = await this.groups.membersOf(groupIds)
    for (const groupId of groupIds) {
      const candidates = (members.get(groupId) ?? []).filter((id) => !ownQueues.has(id))
      for (const item of waiting.filter((i) => i.groupId === groupId)) {
        let placed = false
        for (const deviceId of candidates) {
          if (await this.tryStart(deviceId, item, taken)) {
            placed = true
            started++
            break
          }
        }
        // Items keep their order: one that finds no free member holds back those after it.
        if (!placed) break
      }
    }
    return started
  }

  private async endClaim(claim: EndedClaim): Promise<void> {
    const hold = holdAfter(claim.status, claim.requireConfirm)
    if ((await this.items.release(claim.deviceId, claim.itemId, hold, new Date())) && hold) {
      this.logger.info(
        { deviceId: claim.deviceId, jobId: claim.jobId, hold },
        'device queue held until continue',
      )
    }
  }

  /** Claims the device for the item and starts its transfer; false when it could not. */
  private async tryStart(deviceId: string, item: QueueItem, taken: Set<string>): Promise<boolean> {
    if (taken.has(deviceId)) return false
    if (!this.ports.isConnected(deviceId) || this.ports.isTransferring(deviceId)) return false
    const device = await this.ports.device(deviceId)
    if (!device || device.ownerId !== item.ownerId) return false
    const source = await this.ports.file(item.fileDeviceId, item.fileId)
    if (source && item.groupId !== null && source.deviceId !== deviceId) {
      // A group's item goes only to members that speak the protocol of the device it was uploaded to.
      const origin = await this.ports.device(source.deviceId)
      if (!origin || this.ports.protocolOf(origin) !== this.ports.protocolOf(device)) return false
    }
    if (!(await this.ports.ownerMayRun(item.ownerId))) return false
    if (!(await this.items.claim(deviceId, item.id, item.jobId, new Date()))) return false
    taken.add(deviceId)
    try {
      if (!source) {
        await this.jobs.fail(item.jobId, `file ${item.fileId} was deleted before the item was sent`)
        await this.items.release(deviceId, item.id, null, new Date())
        return false
      }
      const file = await this.ports.shareWith(deviceId, source)
      await this.items.assign(item.id, deviceId)
      await this.ports.startTransfer(device, file, item.jobId)
      return true
    } catch (err) {
      await this.items.release(deviceId, item.id, null, new Date())
      if (err instanceof ConflictError) {
        // The device became busy, or the job was cancelled meanwhile: nothing started.
        taken.delete(deviceId)
        return false
      }
      // The item can never start (its content is gone): it fails rather than block the queue.
      await this.jobs.fail(item.jobId, (err as Error).message).catch(() => {})
      return false
    }
  }
}
