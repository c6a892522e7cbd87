import { Type } from '@sinclair/typebox'
import type { HistoryResult } from './service.js'
import type { HostSample } from './types.js'

export const SystemMetricsQuery = Type.Object({
  window: Type.Optional(
    Type.String({ maxLength: 50, description: 'history back from `to` (default now): 15m, 1h, 24h, 7d' }),
  ),
  from: Type.Optional(Type.String({ maxLength: 50, description: 'ISO-8601 or epoch ms; not with window' })),
  to: Type.Optional(Type.String({ maxLength: 50, description: 'ISO-8601 or epoch ms; default now' })),
  step: Type.Optional(
    Type.String({ maxLength: 50, description: 'bucket size: 1s, 1m, 5m; default gives <= 900 points' }),
  ),
})

const Num = Type.Number()
const DiskSchema = Type.Object({
  path: Type.String(),
  totalBytes: Num,
  usedBytes: Num,
  availableBytes: Num,
  percent: Num,
})

export const HistorySchema = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  stepMs: Type.Integer(),
  source: Type.Union([Type.Literal('memory'), Type.Literal('database'), Type.Literal('mixed')]),
  timestamps: Type.Array(Type.String({ format: 'date-time' }), { description: 'start of each bucket' }),
  cpu: Type.Array(Num, { description: 'average CPU % per bucket' }),
  cpuMax: Type.Array(Num),
  memory: Type.Array(Num, { description: 'average memory % per bucket' }),
  memoryMax: Type.Array(Num),
  disk: Type.Array(Type.Union([Num, Type.Null()]), {
    description: 'average % used of the watched filesystem per bucket; null where it could not be read',
  }),
  netRx: Type.Array(Num, { description: 'average bytes/s received per bucket, all interfaces but loopback' }),
  netRxMax: Type.Array(Num),
  netTx: Type.Array(Num, { description: 'average bytes/s sent per bucket' }),
  netTxMax: Type.Array(Num),
})

export const SystemMetricsSchema = Type.Object({
  timestamp: Type.String({ format: 'date-time' }),
  cpu: Type.Object({ percent: Num, perCore: Type.Array(Num), cores: Type.Integer() }),
  load: Type.Object({ one: Num, five: Num, fifteen: Num }),
  memory: Type.Object({
    totalBytes: Num,
    usedBytes: Num,
    availableBytes: Num,
    freeBytes: Num,
    percent: Num,
    swapTotalBytes: Num,
    swapUsedBytes: Num,
    swapPercent: Num,
  }),
  disk: Type.Union([DiskSchema, Type.Null()]),
  network: Type.Object({ rxBytesPerSec: Num, txBytesPerSec: Num, interfaces: Type.Integer() }),
  history: Type.Optional(HistorySchema),
})

export function sampleView(s: HostSample) {
  return {
    timestamp: new Date(s.timestampMs).toISOString(),
    cpu: s.cpu,
    load: s.load,
    memory: s.memory,
    disk: s.disk,
    network: s.network,
  }
}

export function historyView(h: HistoryResult) {
  return {
    from: new Date(h.fromMs).toISOString(),
    to: new Date(h.toMs).toISOString(),
    stepMs: h.stepMs,
    source: h.source,
    timestamps: h.timestamps.map((t) => new Date(t).toISOString()),
    cpu: h.cpu,
    cpuMax: h.cpuMax,
    memory: h.memory,
    memoryMax: h.memoryMax,
    disk: h.disk,
    netRx: h.netRx,
    netRxMax: h.netRxMax,
    netTx: h.netTx,
    netTxMax: h.netTxMax,
  }
}
