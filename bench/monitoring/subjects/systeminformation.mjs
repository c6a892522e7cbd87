// Bench subject: systeminformation reading the same figures at 1 Hz
// (CPU total and per core, load, memory and swap, disk, network rates).

import { loadavg } from 'node:os'
import si from 'systeminformation'

async function tick() {
  const [load, mem, fs, net] = await Promise.all([
    si.currentLoad(),
    si.mem(),
    si.fsSize(),
    si.networkStats('*'),
  ])
  const [l1, l5, l15] = loadavg()
  const root = fs.find((f) => f.mount === '/') ?? fs[0]
  const rx = net.reduce((s, n) => s + (n.rx_sec ?? 0), 0)
  const tx = net.reduce((s, n) => s + (n.tx_sec ?? 0), 0)
  process.stdout.write(
    `${load.currentLoad},${load.cpus.map((c) => c.load).join(',')},${l1},${l5},${l15},` +
      `${(mem.active / mem.total) * 100},${mem.swaptotal ? (mem.swapused / mem.swaptotal) * 100 : 0},` +
      `${root?.use ?? ''},${rx},${tx}\n`,
  )
}

// Chain ticks one second apart so a slow tick never overlaps the next.
async function loop() {
  const started = Date.now()
  await tick()
  setTimeout(loop, Math.max(0, 1000 - (Date.now() - started)))
}
loop()
process.on('SIGTERM', () => process.exit(0))
