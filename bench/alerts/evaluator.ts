// The rule evaluation alone, in one process, without the MQTT and HTTP noise
// of run.ts: the same 1,000 device rules (10 per device over 100 devices) and
// 20 host rules as run.ts are handed 60 s worth of their input (100 devices at
// 10 Hz = 60,000 telemetry events, 60 host samples) as fast as the CPU allows,
// and the process's CPU time (process.cpuUsage) is set against the 60 s the
// input stands for; the same input through an evaluator with no rules is the
// baseline (a Map miss per event). Readings wander around the target, as in
// run.ts, so no rule changes state and nothing is recorded.
//   npx tsx bench/alerts/evaluator.ts [--reps 5]

import { Evaluator } from '../../src/modules/alerts/evaluator.js'
import type { AlertRule } from '../../src/modules/alerts/records.js'
import { deviceRule } from '../../test/modules/alerts/support.js'

const i = process.argv.indexOf('--reps')
const reps = i >= 0 ? Number(process.argv[i + 1]) : 5
const DEVICES = 100
const SECONDS = 60

function rule(id: string, extra: Partial<AlertRule>): AlertRule {
  return deviceRule({
    kind: 'threshold',
    id,
    name: id,
    ownerId: 'bench',
    deviceId: null,
    warmUpExempt: true,
    ...extra,
  })
}

function rules(): AlertRule[] {
  const out: AlertRule[] = []
  for (let d = 0; d < DEVICES; d++) {
    const deviceId = `device-${d}`
    const t = (k: number, operator: AlertRule['operator'], threshold: number, metric = 'temperature') =>
      rule(`r${d}-${k}`, { deviceId, operator, threshold, metric })
    const rel = (k: number, kind: AlertRule['kind'], delta: number) =>
      rule(`r${d}-${k}`, { deviceId, kind, targetMetric: 'targetTemperature', delta })
    out.push(
      t(0, '>', 300),
      t(1, '<', 100),
      t(2, '>=', 280),
      t(3, '<=', 20),
      rel(4, 'below-target', 15),
      rel(5, 'above-target', 15),
      rel(6, 'no-rise', 5),
      t(7, '>', 1000, 'targetTemperature'),
      t(8, '>', 260),
      t(9, '<', 150),
    )
  }
  const host = ['cpu.percent', 'memory.percent', 'swap.percent', 'disk.percent', 'load.1']
  for (let k = 0; k < 20; k++) {
    out.push(rule(`h${k}`, { source: 'host', metric: host[k % host.length]!, operator: '>', threshold: 1e9 }))
  }
  return out
}

function run(withRules: boolean): { cpuMs: number; changes: number } {
  let changes = 0
  const evaluator = new Evaluator(() => changes++)
  if (withRules) for (const r of rules()) evaluator.watch(r)
  const hostSample = new Map([
    ['cpu.percent', 12],
    ['memory.percent', 40],
    ['swap.percent', 0],
    ['disk.percent', 24],
    ['load.1', 0.8],
  ])
  const start = process.cpuUsage()
  for (let tick = 0; tick < SECONDS * 10; tick++) {
    for (let d = 0; d < DEVICES; d++) {
      // A fresh readings object per event, as a device connection hands one over.
      evaluator.deviceReadings(`device-${d}`, {
        temperature: 205 + Math.sin(tick / 50 + d) * 3,
        targetTemperature: 205,
        fan: 255,
      })
    }
    if (tick % 10 === 0) evaluator.hostValues(hostSample)
  }
  const used = process.cpuUsage(start)
  evaluator.stop()
  return { cpuMs: (used.user + used.system) / 1000, changes }
}

// Warm the JIT on both paths first.
run(true)
run(false)
const without: number[] = []
const withRules: number[] = []
for (let r = 0; r < reps; r++) {
  without.push(run(false).cpuMs)
  const w = run(true)
  if (w.changes !== 0) throw new Error(`a rule changed state ${w.changes} times: the input is not neutral`)
  withRules.push(w.cpuMs)
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pct = (ms: number) => ((ms / (SECONDS * 1000)) * 100).toFixed(3)
console.log(
  `node ${process.version}; ${DEVICES * 10 * SECONDS} telemetry events + ${SECONDS} host samples = ${SECONDS} s of input`,
)
console.log(
  `no rules:           median ${median(without).toFixed(1)} ms CPU = ${pct(median(without))} % of one core`,
)
console.log(
  `1,000 + 20 rules:   median ${median(withRules).toFixed(1)} ms CPU = ${pct(median(withRules))} % of one core`,
)
console.log(
  `per telemetry event with 10 rules on it: ${((median(withRules) / (DEVICES * 10 * SECONDS)) * 1000).toFixed(2)} µs`,
)
