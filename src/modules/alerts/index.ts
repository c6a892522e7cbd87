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
  const recorder = new AlertRecorder({ repo: alerts, bus: ctx.bus, logger })
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
  const service = new AlertsService({ rules, alerts, evaluator, recorder, devices: deps.devices })
  const offs: (() => void)[] = []
  return {
    name: 'alerts',
    service,
    recorder,
    safety,
    routes: (app) => alertRoutes(app, service),
    start: async () => {
      const active = await alerts.active()
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
        // The database dropped the device's rules with it (cascade).
        ctx.bus.on('device.deleted', (e) => {
          for (const id of evaluator.rulesOfDevice(e.deviceId)) {
            evaluator.unwatch(id)
            recorder.forgetRule(id)
          }
        }),
        deps.hostSamples((sample) => evaluator.hostValues(hostValues(sample))),
      )
    },
    stop: async () => {
      for (const off of offs.splice(0)) off()
      evaluator.stop()
      await safety.settled()
      await recorder.settled()
    },
  }
}
