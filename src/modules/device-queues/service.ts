// The queue rules as callers meet them: add copies of a stored file to a
// device's or a group's queue (each copy a `pending` job in the ledger), list,
// reorder and cancel items, and continue a held queue. Owner scoping comes
// from the devices service (another owner's device or group answers 404);
// viewers may read but not change. Dispatch itself is dispatcher.ts.

import { assertRole, type Principal } from '../../auth/principal.js'
import { newId } from '../../db/ids.js'
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js'
import type { DeviceFile } from '../device-files/repository.js'
import { TRANSFER_JOB_TYPE } from '../device-files/transfer.js'
import type { JobsService } from '../jobs/service.js'
import type { DeviceGroupsService } from './groups.js'
import type { QueueRepository } from './repository.js'
import { type AddBody, MAX_WAITING, type ReorderBody } from './schemas.js'
import type { DeviceHead, QueueEntry, QueueItem, QueueRef } from './tables.js'

/** Who keeps a queued job in the ledger (jobs.queued_by). */
export const QUEUED_BY = 'device-queue'

export interface QueueDevicesPort {
  get(principal: Principal, id: string): Promise<{ id: string; name: string; ownerId: string }>
}

export interface QueueFilesPort {
  file(deviceId: string, fileId: string): Promise<DeviceFile | undefined>
}

export interface QueueView {
  items: QueueEntry[]
  holds: DeviceHead[]
}

export class DeviceQueuesService {
  constructor(
    private readonly items: QueueRepository,
    private readonly groups: DeviceGroupsService,
    private readonly jobs: JobsService,
    private readonly devices: QueueDevicesPort,
    private readonly files: QueueFilesPort,
    /** Asks the dispatcher for a pass. */
    private readonly dispatch: () => void,
  ) {}

  async addToDevice(principal: Principal, deviceId: string, body: AddBody): Promise<QueueEntry[]> {
    assertRole(principal, 'operator', 'queue files')
    const device = await this.devices.get(principal, deviceId)
    const file = await this.files.file(deviceId, body.fileId)
    if (!file) throw unknownFile(body.fileId, 'this device')
    return this.add({ kind: 'device', id: deviceId }, device.ownerId, device.name, file, body)
  }

  async addToGroup(principal: Principal, groupId: string, body: AddBody): Promise<QueueEntry[]> {
    assertRole(principal, 'operator', 'queue files')
    const group = await this.groups.get(principal, groupId)
    if (group.members.length === 0) throw new ConflictError(`device group ${groupId} has no members`)
    let file: DeviceFile | undefined
    for (const member of group.members) {
      file = await this.files.file(member, body.fileId)
      if (file) break
    }
    if (!file) throw unknownFile(body.fileId, "this group's members")
    return this.add({ kind: 'group', id: groupId }, group.ownerId, group.name, file, body)
  }

  private async add(
    ref: QueueRef,
    ownerId: string,
    where: string,
    file: DeviceFile,
    body: AddBody,
  ): Promise<QueueEntry[]> {
    const copies = body.copies ?? 1
    if ((await this.items.waitingCount(ref)) + copies > MAX_WAITING) {
      throw new ConflictError(`a queue holds at most ${MAX_WAITING} waiting items`)
    }
    const at = new Date()
    const items: Omit<QueueItem, 'position'>[] = []
    for (let copy = 1; copy <= copies; copy++) {
      const id = newId()
      const job = await this.jobs.create({
        name: `Queue ${file.name} on ${where}${copies > 1 ? ` (copy ${copy} of ${copies})` : ''}`,
        type: TRANSFER_JOB_TYPE,
        ownerId,
        queuedBy: QUEUED_BY,
        details: {
          [ref.kind === 'device' ? 'deviceId' : 'groupId']: ref.id,
          queueItemId: id,
          fileId: file.id,
          fileName: file.name,
          copy,
          copies,
        },
      })
      items.push({
        id,
        ownerId,
        deviceId: ref.kind === 'device' ? ref.id : null,
        groupId: ref.kind === 'group' ? ref.id : null,
        fileDeviceId: file.deviceId,
        fileId: file.id,
        jobId: job.id,
        priority: body.priority ?? 0,
        requireConfirm: body.requireConfirm ?? false,
        assignedDeviceId: null,
        createdAt: at,
      })
    }
    try {
      await this.items.add(ref, items)
    } catch (err) {
      // Without their items the jobs would wait for nothing.
      for (const item of items) await this.jobs.markCancelled(item.jobId, 'not queued').catch(() => {})
      throw err
    }
    this.dispatch()
    const added = new Set(items.map((i) => i.id))
    return (await this.list(ref)).items.filter((i) => added.has(i.id))
  }

  /** A device's queue; `holds` has the device's hold, if any. */
  async deviceQueue(principal: Principal, deviceId: string): Promise<QueueView> {
    await this.devices.get(principal, deviceId)
    return this.list({ kind: 'device', id: deviceId })
  }

  /** A group's queue; `holds` has its held members. */
  async groupQueue(principal: Principal, groupId: string): Promise<QueueView> {
    await this.groups.get(principal, groupId)
    return this.list({ kind: 'group', id: groupId })
  }

  async reorder(principal: Principal, ref: QueueRef, itemId: string, body: ReorderBody): Promise<QueueEntry> {
    assertRole(principal, 'operator', 'reorder queues')
    await this.visible(principal, ref)
    const item = await this.itemIn(ref, itemId)
    if (body.position === undefined && body.priority === undefined) {
      throw new ValidationError('give position or priority', [
        { path: '(body)', message: 'give position or priority' },
      ])
    }
    if (item.status !== 'pending' || !(await this.items.reorder(ref, itemId, body))) {
      throw new ConflictError(`queue item ${itemId} is ${item.status}; only waiting items move`)
    }
    return this.entry(ref, itemId)
  }

  /** Cancels the item's job (a running item stops its transfer), as the jobs API's cancel does. */
  async cancel(principal: Principal, ref: QueueRef, itemId: string): Promise<QueueEntry> {
    assertRole(principal, 'operator', 'cancel queue items')
    await this.visible(principal, ref)
    const item = await this.itemIn(ref, itemId)
    await this.jobs.cancelFor(principal, item.jobId)
    return (await this.items.get(itemId)) ?? item
  }

  /** Lifts a device's hold: the operator cleared the bed, or dealt with the interrupted job. */
  async continueDevice(principal: Principal, deviceId: string): Promise<void> {
    assertRole(principal, 'operator', 'continue queues')
    await this.devices.get(principal, deviceId)
    await this.lift(deviceId)
  }

  /** A group's hold is its member's: the body names the member (deviceId). */
  async continueGroup(principal: Principal, groupId: string, deviceId: string): Promise<void> {
    assertRole(principal, 'operator', 'continue queues')
    const group = await this.groups.get(principal, groupId)
    if (!group.members.includes(deviceId)) {
      throw new ValidationError(`device ${deviceId} is not a member of group ${groupId}`, [
        { path: 'deviceId', message: 'is not a member of this group' },
      ])
    }
    await this.lift(deviceId)
  }

  /** Cancels a queue's waiting items and forgets it (its device or group is going). */
  async dropQueue(ref: QueueRef, reason: string): Promise<void> {
    for (const jobId of await this.items.waitingJobIds(ref)) {
      await this.jobs.markCancelled(jobId, reason).catch(() => {})
    }
    await this.items.deleteQueue(ref)
  }

  private async lift(deviceId: string): Promise<void> {
    if (!(await this.items.lift(deviceId, new Date()))) {
      throw new ConflictError(`the queue of device ${deviceId} is not held`)
    }
    this.dispatch()
  }

  private async visible(principal: Principal, ref: QueueRef): Promise<void> {
    if (ref.kind === 'device') await this.devices.get(principal, ref.id)
    else await this.groups.get(principal, ref.id)
  }

  /** The item of this queue, waiting or running; 404 otherwise (another queue's, finished, unknown). */
  private async itemIn(ref: QueueRef, itemId: string): Promise<QueueEntry> {
    const item = await this.items.get(itemId)
    const inQueue = item && (ref.kind === 'device' ? item.deviceId : item.groupId) === ref.id
    if (!item || !inQueue || !['pending', 'running'].includes(item.status)) {
      throw new NotFoundError('queue item', itemId)
    }
    return item
  }

  private async entry(ref: QueueRef, itemId: string): Promise<QueueEntry> {
    const found = (await this.list(ref)).items.find((i) => i.id === itemId)
    if (!found) throw new NotFoundError('queue item', itemId)
    return found
  }

  /** Items with their 1-based place among the waiting ones, and the holds of the queue's devices. */
  private async list(ref: QueueRef): Promise<QueueView> {
    const entries = await this.items.list(ref)
    let place = 0
    const items = entries.map((e) => (e.status === 'pending' ? { ...e, position: ++place } : e))
    const deviceIds = ref.kind === 'device' ? [ref.id] : await this.groups.membersOf(ref.id)
    const heads = await this.items.heads(deviceIds)
    return { items, holds: [...heads.values()].filter((h) => h.hold !== null) }
  }
}

function unknownFile(fileId: string, where: string): ValidationError {
  return new ValidationError(`no file ${fileId} is stored for ${where}`, [
    { path: 'fileId', message: `no such file stored for ${where}` },
  ])
}
