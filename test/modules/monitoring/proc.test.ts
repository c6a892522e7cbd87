import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ProcReader,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  readDiskUsage,
} from '../../../src/modules/monitoring/proc.js'
import { makeFakeProc } from './fake-proc.js'

describe('parseProcStat', () => {
  it('counts user, nice, system, irq, softirq and steal as busy; idle and iowait as idle', () => {
    const text = 'cpu  10 1 3 50 5 2 4 6 100 100\ncpu0 10 1 3 50 5 2 4 6 100 100\nintr 1 2 3\n'
    const stat = parseProcStat(text)
    // guest (100) and guest_nice (100) are already inside user and nice.
    expect(stat.total).toEqual({ busy: 10 + 1 + 3 + 2 + 4 + 6, idle: 55 })
    expect(stat.cores).toHaveLength(1)
  })

  it('reads old kernels that print only four fields', () => {
    const stat = parseProcStat('cpu 7 0 3 90\ncpu0 7 0 3 90\ncpu1 0 0 0 0\n')
    expect(stat.total).toEqual({ busy: 10, idle: 90 })
    expect(stat.cores).toHaveLength(2)
  })

  it('stops at the first line that is not a cpu line', () => {
    const stat = parseProcStat('cpu 1 0 0 1\ncpu0 1 0 0 1\nctxt 5\ncpu9 1 1 1 1\n')
    expect(stat.cores).toHaveLength(1)
  })

  it('rejects a file without the aggregate cpu line', () => {
    expect(() => parseProcStat('cpu0 1 2 3 4\n')).toThrow(/no aggregate "cpu" line/)
    expect(() => parseProcStat('')).toThrow()
  })

  it('parses the real /proc/stat with one entry per online core', async () => {
    const stat = parseProcStat(await readFile('/proc/stat', 'latin1'))
    expect(stat.cores.length).toBeGreaterThan(0)
    expect(stat.total.busy + stat.total.idle).toBeGreaterThan(0)
  })
})

describe('parseMeminfo', () => {
  it('converts kB to bytes', () => {
    const m = parseMeminfo(
      'MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\nBuffers: 10 kB\nCached: 20 kB\nSwapTotal: 50 kB\nSwapFree: 30 kB\n',
    )
    expect(m).toEqual({
      totalBytes: 1_024_000,
      freeBytes: 102_400,
      availableBytes: 409_600,
      buffersBytes: 10_240,
      cachedBytes: 20_480,
      swapTotalBytes: 51_200,
      swapFreeBytes: 30_720,
    })
  })

  it('estimates available as free + buffers + cached on kernels without MemAvailable', () => {
    const m = parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 20 kB\n')
    expect(m.availableBytes).toBe(130 * 1024)
    expect(m.swapTotalBytes).toBe(0)
  })

  it('rejects a file without MemTotal', () => {
    expect(() => parseMeminfo('MemFree: 100 kB\n')).toThrow(/MemTotal/)
  })
})

describe('parseLoadavg', () => {
  it('reads the three averages', () => {
    expect(parseLoadavg('0.18 0.22 0.11 2/149 7635\n')).toEqual({ one: 0.18, five: 0.22, fifteen: 0.11 })
  })

  it('rejects garbage', () => {
    expect(() => parseLoadavg('x y z')).toThrow(/malformed/)
  })
})

describe('parseNetDev', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:   40044     549    0    0    0     0          0         0    40044     549    0    0    0     0       0          0',
    '  eth0: 219525262    7359    0    0    0     0          0         0   593489    4512    0    0    0     0       0          0',
    '  wlan0: 1000 1 0 0 0 0 0 0 2000 1 0 0 0 0 0 0',
    '  bad0: x y',
    '',
  ].join('\n')

  it('sums all interfaces but loopback and skips malformed lines', () => {
    expect(parseNetDev(text)).toEqual({ rxBytes: 219_526_262, txBytes: 595_489, interfaces: 2 })
  })

  it('answers zeros for a host with only loopback', () => {
    expect(parseNetDev(text.split('\n').slice(0, 3).join('\n'))).toEqual({
      rxBytes: 0,
      txBytes: 0,
      interfaces: 0,
    })
  })
})

describe('readDiskUsage', () => {
  it('reports the filesystem of a path with used + available <= total', async () => {
    const d = await readDiskUsage(process.cwd())
    expect(d.totalBytes).toBeGreaterThan(0)
    expect(d.usedBytes + d.availableBytes).toBeLessThanOrEqual(d.totalBytes)
    expect(d.percent).toBeGreaterThanOrEqual(0)
    expect(d.percent).toBeLessThanOrEqual(100)
    expect(d.percent).toBeCloseTo((d.usedBytes / (d.usedBytes + d.availableBytes)) * 100, 1)
    expect(Math.abs(d.percent * 100 - Math.round(d.percent * 100))).toBeLessThan(1e-6)
  })

  it('rejects a missing path', async () => {
    await expect(readDiskUsage('/definitely/not/here')).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

describe('ProcReader', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.()
  })

  it('reads the real /proc files', async () => {
    const reader = new ProcReader()
    cleanups.push(() => reader.close())
    const meminfo = await reader.read('meminfo')
    expect(meminfo).toMatch(/^MemTotal:/)
    expect(await reader.read('loadavg')).toMatch(/^\d+\.\d+ /)
  })

  it('sees new content on every read through the kept handle', async () => {
    const fake = await makeFakeProc()
    cleanups.push(fake.remove)
    const reader = new ProcReader(fake.root)
    cleanups.push(() => reader.close())
    await writeFile(join(fake.root, 'loadavg'), '1.00 2.00 3.00 1/1 1\n')
    expect(await reader.read('loadavg')).toBe('1.00 2.00 3.00 1/1 1\n')
    await writeFile(join(fake.root, 'loadavg'), '4.5 5 6 1/1 1\n')
    expect(await reader.read('loadavg')).toBe('4.5 5 6 1/1 1\n')
  })

  it('reads a file larger than its first buffer completely', async () => {
    const fake = await makeFakeProc()
    cleanups.push(fake.remove)
    const big = `${'x'.repeat(10_000)}\nend\n`
    await writeFile(join(fake.root, 'big'), big)
    const reader = new ProcReader(fake.root)
    cleanups.push(() => reader.close())
    expect(await reader.read('big')).toBe(big)
  })

  it('rejects a missing file, and finds it once it exists', async () => {
    const fake = await makeFakeProc()
    cleanups.push(fake.remove)
    const reader = new ProcReader(fake.root)
    cleanups.push(() => reader.close())
    await expect(reader.read('stat')).rejects.toMatchObject({ code: 'ENOENT' })
    await writeFile(join(fake.root, 'stat'), 'cpu 1 2 3 4\n')
    expect(await reader.read('stat')).toBe('cpu 1 2 3 4\n')
  })

  it('refuses reads after close, and close is idempotent', async () => {
    const reader = new ProcReader()
    await reader.read('loadavg')
    await reader.close()
    await reader.close()
    await expect(reader.read('loadavg')).rejects.toThrow(/closed/)
  })
})
