// MQTT through a broker. The far end speaks messages on topics under a
// prefix, not a byte stream, so this transport frames each inbound message as
// one line `<topic-suffix> <payload>` and publishes each written line to
// `<prefix>/command`; the `mqtt` protocol (protocols/mqtt.ts) reads that framing.

import { connectAsync } from 'mqtt'
import { TransportListeners } from './listeners.js'
import {
  type ResolveAddress,
  type Transport,
  TransportError,
  type TransportFactory,
  toTransportError,
} from './types.js'

export const MQTT_SUBSCRIBED_TOPICS = ['telemetry', 'status', 'response', 'log'] as const

/** The few methods of mqtt's client that we call. */
interface ClientLike {
  subscribeAsync(topics: string[], opts: { qos: 0 | 1 | 2 }): Promise<unknown>
  publish(topic: string, message: string, opts: { qos: 0 | 1 | 2 }, cb: (err?: Error) => void): unknown
  endAsync(force?: boolean): Promise<void>
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown
  on(event: 'close', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  readonly connected: boolean
}

export interface MqttTransportOptions {
  host: string
  port: number
  topicPrefix: string
  username?: string
  password?: string
  qos: 0 | 1 | 2
  connectTimeoutMs: number
  /** Where the device's online/offline (last-will) messages come; default `<prefix>/status`. */
  availabilityTopic?: string
  /** Checks the broker against the outbound policy; the client connects to the address it answers. */
  resolveAddress?: ResolveAddress
}

export class MqttTransport extends TransportListeners implements Transport {
  private client: ClientLike | null = null

  constructor(private readonly options: MqttTransportOptions) {
    super()
  }

  async open(): Promise<void> {
    const o = this.options
    this.closedByUs = false
    let address = o.host
    if (o.resolveAddress) {
      try {
        address = (await o.resolveAddress(o.host, o.port)).address
      } catch (err) {
        throw toTransportError(err, 'EIO')
      }
    }
    let client: ClientLike
    try {
      client = (await connectAsync(`mqtt://${address.includes(':') ? `[${address}]` : address}:${o.port}`, {
        username: o.username,
        password: o.password,
        connectTimeout: o.connectTimeoutMs,
        // The connection actor owns reconnecting (with backoff and status), so
        // the library must not retry behind its back.
        reconnectPeriod: 0,
        clean: true,
      })) as unknown as ClientLike
    } catch (err) {
      throw toTransportError(err, 'ECONNREFUSED')
    }
    let lastError: Error | undefined
    client.on('error', (err) => {
      lastError = err
    })
    const statusTopic = o.availabilityTopic ?? `${o.topicPrefix}/status`
    client.on('message', (topic, payload) => {
      // The availability topic may sit outside the prefix: its messages read as `status` wherever it is.
      const suffix = topic === statusTopic ? 'status' : topic.slice(o.topicPrefix.length + 1)
      const line = `${suffix} ${payload.toString('utf8').replace(/\r?\n/g, ' ')}\n`
      const chunk = Buffer.from(line, 'utf8')
      this.emitData(chunk)
    })
    client.on('close', () => {
      if (this.closedByUs || this.client !== client) return
      this.client = null
      void client.endAsync(true).catch(() => {})
      const reason = lastError
        ? toTransportError(lastError, 'ECONNRESET', { disconnected: true })
        : new TransportError('the broker closed the connection', 'ECONNRESET', { disconnected: true })
      this.emitClose(reason)
    })
    try {
      await client.subscribeAsync(
        MQTT_SUBSCRIBED_TOPICS.map((t) => (t === 'status' ? statusTopic : `${o.topicPrefix}/${t}`)),
        { qos: o.qos },
      )
    } catch (err) {
      await client.endAsync(true).catch(() => {})
      throw toTransportError(err, 'EPROTO')
    }
    this.client = client
  }

  async write(data: Buffer): Promise<void> {
    const client = this.client
    if (!client?.connected) {
      throw new TransportError('not connected to the broker', 'ENOTCONN', { disconnected: true })
    }
    const topic = `${this.options.topicPrefix}/command`
    for (const line of data.toString('utf8').split('\n')) {
      const message = line.replace(/\r$/, '')
      if (message === '') continue
      await this.written('mqtt client closed', (done) =>
        client.publish(topic, message, { qos: this.options.qos }, done),
      )
    }
  }

  async close(): Promise<void> {
    this.closedByUs = true
    const client = this.client
    this.client = null
    if (client) await client.endAsync(true).catch(() => {})
  }
}

/** An MQTT factory whose clients reach the broker at the address `resolveAddress` checked. */
export function mqttTransport(resolveAddress?: ResolveAddress): TransportFactory {
  return {
    protocol: 'mqtt',
    create(target, config) {
      if (target.scheme !== 'mqtt') throw new TypeError(`mqtt transport got a ${target.scheme} target`)
      return new MqttTransport({
        host: target.host,
        port: target.port,
        topicPrefix: target.topicPrefix,
        username: config.username,
        password: config.password,
        qos: config.qos,
        connectTimeoutMs: config.connectTimeoutMs,
        availabilityTopic: config.availabilityTopic,
        resolveAddress,
      })
    },
  }
}

export const mqtt: TransportFactory = mqttTransport()
