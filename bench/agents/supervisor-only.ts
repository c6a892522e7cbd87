// The supervisor alone, without HTTP, database or the other areas: starts
// BENCH_AGENTS idle agents through the same Supervisor class the server uses,
// prints "started", idles, and stops them all on SIGTERM. Bundled by run.mjs.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Supervisor } from '../../src/modules/agents/supervisor.js'

const n = Number(process.env.BENCH_AGENTS ?? 50)
const agent = process.env.AGENT_SCRIPT as string
const supervisor = new Supervisor({ logDir: mkdtempSync(join(tmpdir(), 'myntrix-bench-logs-')) })
await Promise.all(
  Array.from({ length: n }, (_, i) =>
    supervisor.start(`sup-${i}`, {
      command: [process.execPath, agent],
      env: { NAME: `sup-${i}`, HELLO_PORT: process.env.HELLO_PORT as string },
    }),
  ),
)
console.log('started')
process.on('SIGTERM', () => {
  supervisor.stopAll().then(() => process.exit(0))
})
