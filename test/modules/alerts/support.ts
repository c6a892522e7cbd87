// Shared by the alerts tests: awaiting an alert's change of state on the bus.

import type { AlertEventPayload, EventBus } from '../../../src/events/bus.js'

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
