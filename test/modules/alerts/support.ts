// Shared by the alerts tests: awaiting an alert's change of state on the bus,
// and a device rule record for the evaluator's own tests.

import type { AlertEventPayload, EventBus } from '../../../src/events/bus.js'
import type { AlertRule } from '../../../src/modules/alerts/records.js'

/** Resolves with the next alert.changed of `ruleId` into `state`. */
export function nextAlertChange(
  bus: EventBus,
  ruleId: string,
  state: AlertEventPayload['state'],
): Promise<AlertEventPayload> {
  return new Promise((resolve) => {
    const off = bus.on('alert.changed', ({ alert }) => {
      if (alert.ruleId !== ruleId || alert.state !== state) return
      off()
      resolve(alert)
    })
  })
}

/** A device rule on the temperature of device `printer`, named after its kind; `extra` overrides. */
export function deviceRule(extra: Partial<AlertRule> & Pick<AlertRule, 'kind'>): AlertRule {
  return {
    id: `rule-${extra.kind}`,
    name: extra.kind,
    ownerId: 'owner',
    enabled: true,
    source: 'device',
    metric: 'temperature',
    deviceId: 'printer',
    mount: null,
    operator: null,
    threshold: null,
    clearThreshold: null,
    targetMetric: null,
    delta: null,
    warmUpExempt: false,
    actions: [],
    forSeconds: 0,
    cooldownSeconds: 0,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...extra,
  }
}
