// Wires the alerts area: the evaluator fed by device telemetry on the bus and
// by the monitoring sampler's host samples (handed in, so this area reads no
// other area's tables), the recorder that writes alerts and tells the bus
// (the notifications area turns that into alert.firing / alert.resolved),
// and the rules and alerts API.

import type { Area, AreaContext } from '../area.js'
import type { HostSample } from '../monitoring/types.js'
import { AlertRepository } from './alert-repository.js'
import { Evaluator } from './evaluator.js'
import { hostValues } from './host-metrics.js'
import { AlertRecorder } from './recorder.js'
import { alertRoutes } from './routes.js'
import { AlertRuleRepository } from './rule-repository.js'
import { SafetyActions, type SafetyTargets } from './safety.js'
import { AlertsService, type DeviceAccess } from './service.js'

export interface AlertsAreaDeps {
  devices: DeviceAccess
  /** Where safety actions act (the devices, device-files and jobs areas). */
  safety: SafetyTargets
  /** Subscribes to every host sample of the monitoring sampler; returns the unsubscribe function. */
  hostSamples(listener: (sample: HostSample) => void): () => void
  /** Has the sampler measure these mount points too (asked at each sample). */
  measureMounts(wanted: () => Iterable<string>): void
  /** This host's mount points. */
  mountPoints(): Promise<string[]>
}

export interface AlertsArea extends Area {
  service: AlertsService
  recorder: AlertRecorder
  safety: SafetyActions
}

export function createAlertsArea(ctx: AreaContext, deps: AlertsAreaDeps): AlertsArea {
  const logger = ctx.logger.child({ area: 'alerts' })
  const rules = new AlertRuleRepository(ctx.db)
  const alerts = new AlertRepository(ctx.db)
  // In a cluster each node evaluates every rule: host rules against its own host, device rules
  // on the telemetry of the devices it holds (bus.on hears only this node's). Its alerts carry its name.
  const recorder = new AlertRecorder({
    repo: alerts,
    bus: ctx.bus,
    logger,
    node: ctx.cluster.node.name,
    perNode: ctx.cluster.leases !== null,
  })
  const safety = new SafetyActions({
    targets: deps.safety,
    bus: ctx.bus,
    logger,
    roleOf: async (id) => {
      const user = await ctx.findUser(id)
      return user && !user.disabled ? user.role : undefined
    },
  })
  const evaluator = new Evaluator((change) => {
    recorder.record(change)
    // Not behind the recorder's writes: the machine is acted on as soon as the alert fires.
    if (change.to === 'firing') safety.fired(change.rule, change.alertId, change.value)
  })
  const service = new AlertsService({
    rules,
    alerts,
    evaluator,
    recorder,
    devices: deps.devices,
    mountPoints: deps.mountPoints,
    announce: (ruleId) => ctx.bus.emit('alert-rule.changed', { ruleId }),
  })
  const offs: (() => void)[] = []
  // One rule change at a time, in the order heard, so a slow read never applies an older version last.
  let following: Promise<void> = Promise.resolve()
  const follow = (ruleId: string) => {
    following = following
      .then(() => service.follow(ruleId))
      .catch((err) => logger.error({ err, ruleId }, 'alerts: could not follow a rule change'))
  }
  return {
    name: 'alerts',
    service,
    recorder,
    safety,
    routes: (app) => alertRoutes(app, service),
    start: async () => {
      const active = await alerts.active(recorder.nodeFilter)
      recorder.resume(active)
      for (const rule of await rules.enabled()) {
        const open = active.find((a) => a.ruleId === rule.id)
        evaluator.watch(
          rule,
          open && (open.state === 'pending' || open.state === 'firing')
            ? { alertId: open.id, state: open.state, since: open.startedAt, value: open.value }
            : undefined,
        )
      }
      offs.push(
        ctx.bus.on('device.telemetry', (e) => evaluator.deviceReadings(e.deviceId, e.readings)),
        // Rules changed through any node (this one's own changes are already in place: a no-op).
        ctx.bus.onAnyNode('alert-rule.changed', (e) => follow(e.ruleId)),
        // The database dropped the device's rules with it (cascade), whichever node deleted it.
        ctx.bus.onAnyNode('device.deleted', (e) => {
          for (const id of evaluator.rulesOfDevice(e.deviceId)) {
            evaluator.unwatch(id)
            recorder.forgetRule(id)
          }
        }),
        deps.hostSamples((sample) => evaluator.hostValues(hostValues(sample))),
      )
      deps.measureMounts(() => evaluator.hostMounts())
    },
    stop: async () => {
      for (const off of offs.splice(0)) off()
      deps.measureMounts(() => [])
      evaluator.stop()
      await following
      await safety.settled()
      await recorder.settled()
    },
  }
}
