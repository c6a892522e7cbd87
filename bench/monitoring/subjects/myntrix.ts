// Bench subject: the Myntrix host sampler at 1 Hz, one line per sample to
// stdout (as Glances' --stdout-csv does), nothing else.
import { HostSampler } from '../../../src/modules/monitoring/sampler.js'

const sampler = new HostSampler({ intervalMs: 1000, diskPath: process.cwd() })
sampler.onSample((s) => {
  process.stdout.write(
    `${s.cpu.percent},${s.cpu.perCore.join(',')},${s.load.one},${s.load.five},${s.load.fifteen},` +
      `${s.memory.percent},${s.memory.swapPercent},${s.disk?.percent ?? ''},` +
      `${s.network.rxBytesPerSec},${s.network.txBytesPerSec}\n`,
  )
})
// The bench measures a process that does nothing but sample: keep it alive.
setInterval(() => {}, 1 << 30)
sampler.start()
process.on('SIGTERM', () => {
  sampler.stop().then(() => process.exit(0))
})
