// The /metrics registry: host figures from the sampler, objects by status
// from the database, HTTP request durations. One registry per app (never
// prom-client's global one), so two apps in one process do not collide.

import { Gauge, Histogram, Registry } from 'prom-client'
import type { MonitoringRepository, StatusCountTable } from './repository.js'
import type { HostSampler } from './sampler.js'

// Known statuses are always exported (as 0 when absent) so a dashboard's
// series do not vanish; unknown ones that appear in the tables are added.
const STATUS_FAMILIES: Array<{ table: StatusCountTable; name: string; help: string; statuses: string[] }> = [
  {
    table: 'agents',
    name: 'myntrix_agents',
    help: 'Agents by status',
    statuses: ['stopped', 'starting', 'running', 'stopping', 'restarting', 'error'],
  },
  {
    table: 'devices',
    name: 'myntrix_devices',
    help: 'Devices by status',
    statuses: ['disconnected', 'connecting', 'connected', 'error'],
  },
  {
    table: 'jobs',
    name: 'myntrix_jobs',
    help: 'Jobs by status',
    statuses: ['pending', 'running', 'completed', 'failed', 'cancelled', 'interrupted'],
  },
  {
    table: 'taskRuns',
    name: 'myntrix_scheduler_runs',
    help: 'Scheduled task runs in the history by outcome (status)',
    statuses: ['pending', 'running', 'success', 'failed', 'skipped', 'cancelled'],
  },
  {
    table: 'notificationDeliveries',
    name: 'myntrix_notification_deliveries',
    help: 'Notifications by outcome: pending (not yet sent or waiting to retry), delivered, failed (gave up)',
    statuses: ['pending', 'delivered', 'failed'],
  },
]

export interface MetricsRegistry {
  registry: Registry
  /** Records one finished HTTP request. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void
}

export function createMetricsRegistry(deps: {
  sampler: HostSampler
  repository: MonitoringRepository
  onError?: (error: Error, what: string) => void
}): MetricsRegistry {
  const { sampler, repository } = deps
  const registry = new Registry()
  const registers = [registry]
  const host = () => sampler.current()

  new Gauge({
    name: 'myntrix_host_cpu_percent',
    help: 'Busy share of all CPU cores over the last sample interval, 0-100',
    registers,
    collect() {
      const s = host()
      if (s) this.set(s.cpu.percent)
    },
  })
  new Gauge({
    name: 'myntrix_host_cpu_core_percent',
    help: 'Busy share of one CPU core over the last sample interval, 0-100',
    labelNames: ['core'],
    registers,
    collect() {
      const s = host()
      if (!s) return
      for (const [i, v] of s.cpu.perCore.entries()) this.set({ core: String(i) }, v)
    },
  })
  new Gauge({
    name: 'myntrix_host_load_average',
    help: 'System load average',
    labelNames: ['period'],
    registers,
    collect() {
      const s = host()
      if (!s) return
      this.set({ period: '1m' }, s.load.one)
      this.set({ period: '5m' }, s.load.five)
      this.set({ period: '15m' }, s.load.fifteen)
    },
  })
  new Gauge({
    name: 'myntrix_host_memory_bytes',
    help: 'Host memory (used = total - available)',
    labelNames: ['state'],
    registers,
    collect() {
      const s = host()
      if (!s) return
      this.set({ state: 'total' }, s.memory.totalBytes)
      this.set({ state: 'used' }, s.memory.usedBytes)
      this.set({ state: 'available' }, s.memory.availableBytes)
    },
  })
  new Gauge({
    name: 'myntrix_host_memory_percent',
    help: 'Host memory in use, 0-100',
    registers,
    collect() {
      const s = host()
      if (s) this.set(s.memory.percent)
    },
  })
  new Gauge({
    name: 'myntrix_host_swap_bytes',
    help: 'Host swap space',
    labelNames: ['state'],
    registers,
    collect() {
      const s = host()
      if (!s) return
      this.set({ state: 'total' }, s.memory.swapTotalBytes)
      this.set({ state: 'used' }, s.memory.swapUsedBytes)
    },
  })
  new Gauge({
    name: 'myntrix_host_disk_bytes',
    help: 'The filesystem holding the data directory',
    labelNames: ['state'],
    registers,
    collect() {
      const d = host()?.disk
      if (!d) return
      this.set({ state: 'total' }, d.totalBytes)
      this.set({ state: 'used' }, d.usedBytes)
      this.set({ state: 'available' }, d.availableBytes)
    },
  })
  new Gauge({
    name: 'myntrix_host_network_bytes_per_second',
    help: 'Network throughput over all interfaces but loopback',
    labelNames: ['direction'],
    registers,
    collect() {
      const s = host()
      if (!s) return
      this.set({ direction: 'receive' }, s.network.rxBytesPerSec)
      this.set({ direction: 'transmit' }, s.network.txBytesPerSec)
    },
  })
  new Gauge({
    name: 'myntrix_process_resident_memory_bytes',
    help: 'Resident memory of the Myntrix server process',
    registers,
    collect() {
      this.set(process.memoryUsage.rss())
    },
  })

  for (const family of STATUS_FAMILIES) {
    new Gauge({
      name: family.name,
      help: family.help,
      labelNames: ['status'],
      registers,
      async collect() {
        try {
          const counts = await repository.countByStatus(family.table)
          this.reset()
          for (const status of new Set([...family.statuses, ...Object.keys(counts)])) {
            this.set({ status }, counts[status] ?? 0)
          }
        } catch (error) {
          // One unreadable table must not take /metrics down.
          deps.onError?.(error as Error, `counting ${family.table} by status`)
        }
      },
    })
  }

  new Gauge({
    name: 'myntrix_alerts',
    help: 'Active alerts by state (pending: the condition holds, not yet forSeconds; firing) and source (host, device)',
    labelNames: ['state', 'source'],
    registers,
    async collect() {
      try {
        const rows = await repository.countActiveAlerts()
        this.reset()
        for (const state of ['pending', 'firing']) {
          for (const source of ['host', 'device']) this.set({ state, source }, 0)
        }
        for (const r of rows) this.set({ state: r.state, source: r.source }, r.n)
      } catch (error) {
        deps.onError?.(error as Error, 'counting active alerts')
      }
    },
  })

  const httpDuration = new Histogram({
    name: 'myntrix_http_request_duration_seconds',
    help: 'HTTP request duration by route template',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })

  return {
    registry,
    observeRequest(method, route, statusCode, seconds) {
      httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds)
    },
  }
}
