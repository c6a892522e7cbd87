// A notification rule as the service and the dispatcher see it.

import type { RuleFilter } from './schemas.js'

export interface WebhookSinkSettings {
  type: 'webhook'
  url: string
}

export interface MqttSinkSettings {
  type: 'mqtt'
  url: string
  topic: string
  username: string | null
  retain: boolean
}

export type SinkSettings = WebhookSinkSettings | MqttSinkSettings

export interface NotificationRule {
  id: string
  name: string
  ownerId: string
  enabled: boolean
  filter: RuleFilter
  cooldownSeconds: number
  sink: SinkSettings
  /** The webhook signing secret or the broker password; never leaves the server. */
  secret: string | null
  createdAt: Date
  updatedAt: Date
}
