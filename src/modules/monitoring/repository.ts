// SQL for the monitoring area: one row of `system_metrics_history` per
// minute, and the status counts /metrics reports.

import type { Database } from '../../db/types.js'
import { fromDbInt, fromDbIntOrNull, fromDbTime, toDbTime } from '../../db/values.js'
import { MINUTE_MS } from './history.js'
import type { MinuteAggregate } from './types.js'

/** A stored row keeps the charted figures of a minute and one average each of the rest. */
export type StoredMinute = Pick<
  MinuteAggregate,
  'minuteMs' | 'sampleCount' | 'cpuAvg' | 'cpuMax' | 'memoryAvg' | 'memoryMax' | 'diskPercent'
> & {
  memoryUsedBytes: number | null
  load1: number | null
  netRxBytesPerSec: number | null
  netTxBytesPerSec: number | null
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
const weighted = (a: number | null, na: number, b: number | null, nb: number): number | null =>
  a === null ? b : b === null ? a : (a * na + b * nb) / (na + nb)

export type StatusCountTable = 'agents' | 'devices' | 'jobs' | 'taskRuns' | 'notificationDeliveries'

export class MonitoringRepository {
  constructor(private readonly db: Database) {}

  /**
   * Stores one minute. A row for the same minute already exists when the
   * server restarted within that minute (the partial minute is saved at
   * stop): the two are merged, weighted by their sample counts.
   */
  async saveMinute(a: MinuteAggregate): Promise<void> {
    const bucketStart = toDbTime(new Date(a.minuteMs))
    const incoming: StoredMinute = {
      minuteMs: a.minuteMs,
      sampleCount: a.sampleCount,
      cpuAvg: a.cpuAvg,
      cpuMax: a.cpuMax,
      memoryAvg: a.memoryAvg,
      memoryMax: a.memoryMax,
      memoryUsedBytes: a.memoryUsedBytesAvg,
      load1: a.load1Avg,
      diskPercent: a.diskPercent,
      netRxBytesPerSec: a.netRxBytesPerSecAvg,
      netTxBytesPerSec: a.netTxBytesPerSecAvg,
    }
    await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('systemMetricsHistory')
        .selectAll()
        .where('bucketStart', '=', bucketStart)
        .executeTakeFirst()
      if (!row) {
        await trx
          .insertInto('systemMetricsHistory')
          .values({
            bucketStart,
            samples: incoming.sampleCount,
            cpuAvg: incoming.cpuAvg,
            cpuMax: incoming.cpuMax,
            memoryAvg: incoming.memoryAvg,
            memoryMax: incoming.memoryMax,
            memoryUsedBytes: incoming.memoryUsedBytes,
            load1: incoming.load1,
            diskPercent: incoming.diskPercent,
            netRxBytesPerSec: incoming.netRxBytesPerSec,
            netTxBytesPerSec: incoming.netTxBytesPerSec,
          })
          .execute()
        return
      }
      const old = toStoredMinute(row)
      const n1 = old.sampleCount
      const n2 = incoming.sampleCount
      const used = weighted(old.memoryUsedBytes, n1, incoming.memoryUsedBytes, n2)
      await trx
        .updateTable('systemMetricsHistory')
        .set({
          samples: n1 + n2,
          cpuAvg: weighted(old.cpuAvg, n1, incoming.cpuAvg, n2)!,
          cpuMax: Math.max(old.cpuMax, incoming.cpuMax),
          memoryAvg: weighted(old.memoryAvg, n1, incoming.memoryAvg, n2)!,
          memoryMax: Math.max(old.memoryMax, incoming.memoryMax),
          memoryUsedBytes: used === null ? null : Math.round(used),
          load1: weighted(old.load1, n1, incoming.load1, n2),
          diskPercent: incoming.diskPercent ?? old.diskPercent,
          netRxBytesPerSec: weighted(old.netRxBytesPerSec, n1, incoming.netRxBytesPerSec, n2),
          netTxBytesPerSec: weighted(old.netTxBytesPerSec, n1, incoming.netTxBytesPerSec, n2),
        })
        .where('bucketStart', '=', bucketStart)
        .execute()
    })
  }

  /** Minutes whose start lies in [fromMs, toMs), oldest first. */
  async listMinutes(fromMs: number, toMs: number): Promise<StoredMinute[]> {
    const rows = await this.db
      .selectFrom('systemMetricsHistory')
      .selectAll()
      .where('bucketStart', '>=', toDbTime(new Date(fromMs)))
      .where('bucketStart', '<', toDbTime(new Date(toMs)))
      .orderBy('bucketStart')
      .execute()
    return rows.map(toStoredMinute)
  }

  /** Deletes minutes that started before `beforeMs`; returns how many. */
  async pruneBefore(beforeMs: number): Promise<number> {
    const cutoff = Math.floor(beforeMs / MINUTE_MS) * MINUTE_MS
    const r = await this.db
      .deleteFrom('systemMetricsHistory')
      .where('bucketStart', '<', toDbTime(new Date(cutoff)))
      .executeTakeFirst()
    return Number(r.numDeletedRows)
  }

  /**
   * Rows per status of one area's table. Read straight from the tables: the
   * counts are what every area already persists, so /metrics needs no hook
   * into each area's service.
   */
  async countByStatus(table: StatusCountTable): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom(table)
      .select(['status', (eb) => eb.fn.countAll().as('n')])
      .groupBy('status')
      .execute()
    return Object.fromEntries(rows.map((r) => [String(r.status), fromDbInt(r.n)]))
  }

  /** Pending and firing alerts by state and source (host, device); ended ones are history, not counted. */
  async countActiveAlerts(): Promise<Array<{ state: string; source: string; n: number }>> {
    const rows = await this.db
      .selectFrom('alerts')
      .select(['state', 'resourceType', (eb) => eb.fn.countAll().as('n')])
      .where('state', 'in', ['pending', 'firing'])
      .groupBy(['state', 'resourceType'])
      .execute()
    return rows.map((r) => ({ state: String(r.state), source: String(r.resourceType), n: fromDbInt(r.n) }))
  }
}

function toStoredMinute(row: {
  bucketStart: unknown
  samples: unknown
  cpuAvg: unknown
  cpuMax: unknown
  memoryAvg: unknown
  memoryMax: unknown
  memoryUsedBytes: unknown
  load1: unknown
  diskPercent: unknown
  netRxBytesPerSec: unknown
  netTxBytesPerSec: unknown
}): StoredMinute {
  return {
    minuteMs: fromDbTime(row.bucketStart)!.getTime(),
    sampleCount: fromDbInt(row.samples),
    cpuAvg: Number(row.cpuAvg),
    cpuMax: Number(row.cpuMax),
    memoryAvg: Number(row.memoryAvg),
    memoryMax: Number(row.memoryMax),
    memoryUsedBytes: fromDbIntOrNull(row.memoryUsedBytes),
    load1: num(row.load1),
    diskPercent: num(row.diskPercent),
    netRxBytesPerSec: num(row.netRxBytesPerSec),
    netTxBytesPerSec: num(row.netTxBytesPerSec),
  }
}
