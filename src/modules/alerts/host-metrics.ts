// The host metrics an alert rule may watch, read from one monitoring sample.

import type { HostSample } from '../monitoring/types.js'
import type { HostMetric } from './records.js'

export function hostValues(sample: HostSample): Map<HostMetric, number> {
  const values = new Map<HostMetric, number>([
    ['cpu.percent', sample.cpu.percent],
    ['memory.percent', sample.memory.percent],
    ['swap.percent', sample.memory.swapPercent],
    ['load.1', sample.load.one],
    ['load.5', sample.load.five],
    ['load.15', sample.load.fifteen],
  ])
  // The sampler measures the filesystem of the data directory; null when statfs failed.
  if (sample.disk) values.set('disk.percent', sample.disk.percent)
  return values
}
