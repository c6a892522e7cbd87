// The host metrics an alert rule may watch, read from one monitoring sample.

import type { HostSample } from '../monitoring/types.js'

export function hostValues(sample: HostSample): Map<string, number> {
  const values = new Map<string, number>([
    ['cpu.percent', sample.cpu.percent],
    ['memory.percent', sample.memory.percent],
    ['swap.percent', sample.memory.swapPercent],
    ['load.1', sample.load.one],
    ['load.5', sample.load.five],
    ['load.15', sample.load.fifteen],
  ])
  // The sampler measures the filesystem of the data directory; null when statfs failed.
  if (sample.disk) values.set('disk.percent', sample.disk.percent)
  // The mounts host rules name (measured only while a rule names them), keyed as hostKey() does.
  for (const mount of sample.mounts ?? []) values.set(`disk.percent@${mount.path}`, mount.percent)
  return values
}
