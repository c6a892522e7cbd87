// Myntrix end to end: the real app on a temporary SQLite database, a device
// on the pty, the file uploaded through POST /upload and streamed as a job.
// GRBL (`--grbl`) keeps its default configuration, the 250 ms status poll
// included; Marlin's temperature reports are off (the emulator's would count
// against Myntrix alone). --status-poll-ms N sets GRBL's status poll (0: off),
// to show what the poll's reports cost on a modelled wire.
//   node --import tsx myntrix-send.ts <port> <file> [baud] [--grbl] [--status-poll-ms N]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'

const [path, file, baudRaw, firmware] = process.argv.slice(2)
const pollAt = process.argv.indexOf('--status-poll-ms')
const statusPoll = pollAt >= 0 ? { statusPollMs: Number(process.argv[pollAt + 1]) } : {}
if (path === undefined || file === undefined) {
  console.error('usage: myntrix-send.ts <port> <file> [baud] [--grbl]')
  process.exit(2)
}
const dataDir = mkdtempSync(join(tmpdir(), 'myntrix-bench-'))
// MYNTRIX_* settings of the environment apply (a profiling run may change one).
const fromEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MYNTRIX_')))
const config = loadConfig({
  ...fromEnv,
  MYNTRIX_DATA_DIR: dataDir,
  MYNTRIX_ADMIN_PASSWORD: 'bench-password-1',
  MYNTRIX_LOG_LEVEL: 'silent',
})
const database = openDatabase(config.databaseUrl)
const app = await buildApp({ config, database, logger: false })
try {
  const login = await app.inject({
    method: 'POST',
    url: '/api/auth/token',
    payload: { username: 'admin', password: 'bench-password-1' },
  })
  const headers = { authorization: `Bearer ${login.json().access_token}` }
  const created = await app.inject({
    method: 'POST',
    url: '/api/myntrix/devices',
    headers,
    payload: {
      name: 'bench',
      connectionString: `serial://${path}?baudRate=${baudRaw ?? 115200}`,
      configuration:
        firmware === '--grbl'
          ? { protocol: 'grbl', ...statusPoll }
          : { protocol: 'marlin', temperatureReport: 'off' },
    },
  })
  const id = created.json().id
  const connected = await app.inject({ method: 'POST', url: `/api/myntrix/devices/${id}/connect`, headers })
  if (connected.statusCode !== 200) throw new Error(`connect: ${connected.body}`)
  const boundary = '----myntrixbench'
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.gcode"\r\n\r\n`,
    ),
    readFileSync(file),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ])
  const finished = new Promise<string>((resolve) => {
    app.myntrix.context.bus.on('job.updated', ({ job }) => {
      if (['completed', 'failed', 'cancelled'].includes(job.status)) resolve(job.status)
    })
  })
  const uploaded = await app.inject({
    method: 'POST',
    url: `/api/myntrix/devices/${id}/upload`,
    headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: body,
  })
  if (uploaded.statusCode !== 202) throw new Error(`upload: ${uploaded.body}`)
  console.log(`sent ${await finished}`)
} finally {
  await app.close()
  await database.close()
  rmSync(dataDir, { recursive: true, force: true })
}
