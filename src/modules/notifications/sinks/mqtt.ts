// The MQTT sink: connect to the broker at the address the outbound policy
// checked for the rule owner's role, publish the notification's JSON with
// QoS 1 (the broker acknowledges it) and disconnect. One connection per
// attempt: notifications are rare, and a connection held open would need its
// own reconnect and liveness handling.

import { connectAsync, type MqttClient } from 'mqtt'
import { OutboundDeniedError, type OutboundPolicy } from '../../../net/outbound-policy.js'
import { abortable, errorText } from '../../../net/pinned-request.js'
import { sinkDestination } from '../sink-settings.js'
import type { SendRequest, SendResult, Sink } from './types.js'

export class MqttSink implements Sink {
  constructor(private readonly policy: OutboundPolicy) {}

  async send(request: SendRequest): Promise<SendResult> {
    const { delivery, rule, role, signal } = request
    const fail = (error: string, retryable: boolean): SendResult => ({
      ok: false,
      statusCode: null,
      error,
      retryable,
    })
    if (rule.sink.type !== 'mqtt') return fail('the rule has no MQTT settings', false)
    const { topic, username, retain } = rule.sink
    const { host: name, port } = sinkDestination(rule.sink)
    let client: MqttClient | undefined
    const onAbort = () => void client?.endAsync(true).catch(() => {})
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const target = await abortable(
        this.policy.resolve({ role, host: name, port, purpose: 'notification mqtt' }),
        signal,
      )
      const host = target.address.includes(':') ? `[${target.address}]` : target.address
      const connecting = connectAsync(`mqtt://${host}:${port}`, {
        username: username ?? undefined,
        password: rule.secret ?? undefined,
        // The worker retries with backoff and records each attempt; the library must not retry behind it.
        reconnectPeriod: 0,
        clean: true,
      })
      client = await abortable(connecting, signal).catch((err) => {
        // Aborted while connecting: end the client the connect still makes.
        void connecting.then((c) => c.endAsync(true)).catch(() => {})
        throw err
      })
      await abortable(client.publishAsync(topic, delivery.body, { qos: 1, retain }), signal)
      await client.endAsync()
      return { ok: true, statusCode: null, error: null, retryable: false }
    } catch (err) {
      await client?.endAsync(true).catch(() => {})
      if (signal.aborted) throw signal.reason
      if (err instanceof OutboundDeniedError) return fail(err.message, false)
      return fail(`mqtt: ${errorText(err)}`, true)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }
}
