// What sealing costs per message between nodes (docs/PERFORMANCE.md,
// "Scale-out"): seal on the publisher plus open on each receiver, against what
// every message already cost before sealing, JSON.stringify of its envelope on
// the publisher plus JSON.parse on the receiver. The message is a telemetry
// event as a sim://marlin device sends it (the bulk of cluster traffic), and a
// 4 KiB one (an agent's log line).
//   npx tsx bench/scale-out/seal.ts [--messages 200000] [--reps 5]

import { randomUUID } from 'node:crypto'
import { MessageSeal } from '../../src/cluster/message-seal.js'

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const MESSAGES = arg('--messages', 200_000)
const REPS = arg('--reps', 5)

const telemetry = {
  from: randomUUID(),
  payload: {
    deviceId: randomUUID(),
    ownerId: randomUUID(),
    ts: new Date().toISOString(),
    readings: { temperature: 205.3, targetTemperature: 205, bedTemperature: 60.1, targetBedTemperature: 60 },
  },
}
const logLine = {
  from: randomUUID(),
  payload: { agentId: randomUUID(), stream: 'stdout', line: 'x'.repeat(4000) },
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/** Nanoseconds per message of `work`, median of REPS runs of MESSAGES. */
function perMessage(work: () => void): number {
  const runs: number[] = []
  for (let r = 0; r < REPS; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < MESSAGES; i++) work()
    runs.push(Number(process.hrtime.bigint() - start) / MESSAGES)
  }
  return median(runs)
}

const seal = new MessageSeal('the JWT secret every node of the cluster shares, 32+')
const channel = 'myx.event.device.telemetry'
console.log(`node ${process.version}, ${MESSAGES} messages x ${REPS} reps, medians`)
for (const [name, envelope] of [
  ['telemetry event', telemetry],
  ['4 KiB log line', logLine],
] as const) {
  const text = JSON.stringify(envelope)
  const sealed = seal.seal(channel, text)
  const json = perMessage(() => JSON.parse(JSON.stringify(envelope)))
  const sealing = perMessage(() => {
    const opened = seal.open(channel, seal.seal(channel, text), 60_000)
    if (!opened.ok) throw new Error('did not open')
  })
  console.log(
    `${name}: ${text.length} B -> ${sealed.length} B sealed; JSON stringify+parse ${(json / 1000).toFixed(2)} us, ` +
      `seal+open ${(sealing / 1000).toFixed(2)} us (${(sealing / json).toFixed(2)}x)`,
  )
}
