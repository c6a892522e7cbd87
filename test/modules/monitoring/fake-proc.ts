// Writes a folder shaped like /proc with chosen counters, for the sampler's
// procRoot option: the sampler reads real files, the test picks the numbers.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock } from '../../../src/modules/monitoring/types.js'

export interface FakeHost {
  /** [busy, idle] ticks per core; the aggregate line is their sum. */
  cores: Array<[number, number]>
  memTotalKb: number
  memAvailableKb: number
  memFreeKb?: number
  swapTotalKb?: number
  swapFreeKb?: number
  load?: [number, number, number]
  rxBytes?: number
  txBytes?: number
}

export async function makeFakeProc(): Promise<{
  root: string
  write(host: FakeHost): Promise<void>
  remove(): Promise<void>
}> {
  const root = await mkdtemp(join(tmpdir(), 'myntrix-proc-'))
  await mkdir(join(root, 'net'))
  return {
    root,
    async write(host) {
      // Busy ticks go to user/system/irq fields, idle to idle/iowait, so the
      // parser's field mapping is exercised, not just one column.
      const line = (name: string, busy: number, idle: number) => {
        const user = Math.floor(busy / 2)
        const system = Math.max(busy - user - 1, 0)
        const irq = busy - user - system
        const iowait = Math.floor(idle / 10)
        return `${name} ${user} 0 ${system} ${idle - iowait} ${iowait} ${irq} 0 0 0 0`
      }
      const busy = host.cores.reduce((s, c) => s + c[0], 0)
      const idle = host.cores.reduce((s, c) => s + c[1], 0)
      const stat = [
        line('cpu ', busy, idle),
        ...host.cores.map((c, i) => line(`cpu${i}`, c[0], c[1])),
        'intr 12345 0 0 0',
        'ctxt 999',
        '',
      ].join('\n')
      const meminfo = [
        `MemTotal:       ${host.memTotalKb} kB`,
        `MemFree:        ${host.memFreeKb ?? host.memAvailableKb} kB`,
        `MemAvailable:   ${host.memAvailableKb} kB`,
        'Buffers:            100 kB',
        'Cached:            2000 kB',
        'SwapCached:           0 kB',
        `SwapTotal:      ${host.swapTotalKb ?? 0} kB`,
        `SwapFree:       ${host.swapFreeKb ?? 0} kB`,
        '',
      ].join('\n')
      const [l1, l5, l15] = host.load ?? [0.5, 0.25, 0.1]
      const rx = host.rxBytes ?? 0
      const tx = host.txBytes ?? 0
      const netDev = [
        'Inter-|   Receive                                                |  Transmit',
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
        `    lo: 999999     549    0    0    0     0          0         0   999999     549    0    0    0     0       0          0`,
        `  eth0: ${rx - 100}    7359    0    0    0     0          0         0   ${tx - 50}    4512    0    0    0     0       0          0`,
        `  eth1: 100       1    0    0    0     0          0         0   50       1    0    0    0     0       0          0`,
        '',
      ].join('\n')
      await Promise.all([
        writeFile(join(root, 'stat'), stat),
        writeFile(join(root, 'meminfo'), meminfo),
        writeFile(join(root, 'loadavg'), `${l1} ${l5} ${l15} 2/149 7635\n`),
        writeFile(join(root, 'net/dev'), netDev),
      ])
    },
    remove: () => rm(root, { recursive: true, force: true }),
  }
}

/** A clock the test moves by hand; the one pending timer fires only when asked. */
export class ManualClock implements Clock {
  private pending: { callback: () => void; dueMs: number; id: number } | null = null
  private nextId = 1
  scheduled = 0

  constructor(public nowMs: number) {}

  now(): number {
    return this.nowMs
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    this.scheduled++
    const id = this.nextId++
    this.pending = { callback, dueMs: this.nowMs + delayMs, id }
    return id
  }

  clearTimeout(handle: unknown): void {
    if (this.pending?.id === handle) this.pending = null
  }

  get pendingDueMs(): number | null {
    return this.pending?.dueMs ?? null
  }

  /** Moves time to the pending timer's due time and runs it. */
  fire(): void {
    const p = this.pending
    if (!p) throw new Error('no timer pending')
    this.pending = null
    this.nowMs = p.dueMs
    p.callback()
  }
}
