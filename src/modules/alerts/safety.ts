// Safety actions: what a device rule does on the machine when its alert fires
// (pause or cancel the file transfer running on it, send a command such as
// M104 S0 or GRBL's feed hold), in the rule's order, each at every firing (a
// rule's cooldown only holds back notifications, never safety). Each outcome is
// a line on the device's log feed and, when a job was touched, on the job. The
// rule's owner acts, with their standing now: a disabled or deleted owner, one
// demoted to viewer, or a former admin on another's device gets nothing done
// (and a line saying so).

import type { EventBus } from '../../events/bus.js'
import type { Logger } from '../../logger.js'
import type { AlertRule, SafetyAction } from './records.js'

/** The devices, device-files and jobs areas, as far as safety actions need them (wired in app.ts). */
export interface SafetyTargets {
  /** Pauses the transfer running on the device; its job id, or null when none runs. */
  pauseTransfer(deviceId: string): Promise<string | null>
  /** Cancels the transfer running on the device; its job id, or null when none runs. */
  cancelTransfer(deviceId: string, reason: string): Promise<string | null>
  /** Sends a command through the device's connection (rejects when it is not connected). */
  command(deviceId: string, text: string): Promise<{ ok: boolean; message: string }>
  /** Appends a line to a job's log. */
  jobLog(jobId: string, line: string): Promise<void>
  /** The device's owner; undefined when it is gone. */
  ownerOf(deviceId: string): Promise<string | undefined>
}

export interface SafetyActionsOptions {
  targets: SafetyTargets
  bus: EventBus
  logger: Logger
  /** The owner's role as it is now; undefined for a disabled or deleted owner. */
  roleOf(userId: string): Promise<string | undefined>
}

export class SafetyActions {
  private running: Promise<void> = Promise.resolve()

  constructor(private readonly options: SafetyActionsOptions) {}

  /** Runs the rule's actions for an alert that just fired; returns at once (they run in turn). */
  fired(rule: AlertRule, alertId: string, value: number | null): void {
    if (rule.actions.length === 0 || !rule.deviceId) return
    const deviceId = rule.deviceId
    this.running = this.running
      .then(() => this.run(rule, deviceId, alertId, value))
      .catch((err) => this.options.logger.error({ err, ruleId: rule.id }, 'alerts: safety actions failed'))
  }

  /** Resolves when the actions started so far are done (tests, shutdown). */
  settled(): Promise<void> {
    return this.running
  }

  private async run(rule: AlertRule, deviceId: string, alertId: string, value: number | null): Promise<void> {
    const why = `alert "${rule.name}" (${alertId}) fired at ${value}`
    const role = await this.options.roleOf(rule.ownerId)
    // An admin's rule on another's device acts only while its owner is still an admin.
    const mayAct =
      role === 'admin' ||
      (role === 'operator' && (await this.options.targets.ownerOf(deviceId)) === rule.ownerId)
    if (!mayAct) {
      this.deviceLog(deviceId, `${why}: actions not taken, the rule's owner may no longer act on this device`)
      return
    }
    for (const action of rule.actions) {
      const line = await this.act(action, deviceId, why).catch((err: Error) => ({
        jobId: null,
        text: `${describe(action)} failed: ${err.message}`,
      }))
      this.deviceLog(deviceId, `${why}: ${line.text}`)
      if (line.jobId) await this.options.targets.jobLog(line.jobId, `${why}: ${line.text}`).catch(() => {})
    }
  }

  private async act(
    action: SafetyAction,
    deviceId: string,
    why: string,
  ): Promise<{ jobId: string | null; text: string }> {
    const { targets } = this.options
    switch (action.type) {
      case 'pause-job': {
        const jobId = await targets.pauseTransfer(deviceId)
        return { jobId, text: jobId ? `paused job ${jobId}` : 'pause-job: no transfer running' }
      }
      case 'cancel-job': {
        const jobId = await targets.cancelTransfer(deviceId, why)
        return { jobId, text: jobId ? `cancelled job ${jobId}` : 'cancel-job: no transfer running' }
      }
      case 'send-command': {
        const result = await targets.command(deviceId, action.command as string)
        return { jobId: null, text: `sent ${action.command}: ${result.ok ? 'ok' : result.message}` }
      }
    }
  }

  private deviceLog(deviceId: string, line: string): void {
    this.options.bus.emit('device.log', { deviceId, ts: new Date().toISOString(), direction: 'info', line })
  }
}

function describe(action: SafetyAction): string {
  return action.type === 'send-command' ? `send-command ${action.command}` : action.type
}
