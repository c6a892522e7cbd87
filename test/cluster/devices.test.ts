// Devices in a cluster: three (or two) real server processes on one fresh
// PostgreSQL database and the local Redis. A sim://marlin device connected
// through A is commanded through B, its telemetry reaches a WebSocket on C,
// and a connect through C opens no second connection; kill -9 of the holder
// hands an unpinned device to a survivor and reports a pinned serial device
// (a socat pty) as `node lost`; a holder paused past its lease and resumed
// changes nothing of the new holder's state and closes its own connection.

import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../helpers/pty.js'
import { REDIS_URL, redisReachable } from '../helpers/redis.js'
import { multipart } from '../modules/device-files/support.js'
import { ClusterServers } from './servers.js'

const postgres = testEngines().find((e) => e.name === 'postgres')
const hasRedis = await redisReachable()
if (!postgres || !hasRedis) console.warn('skipping the cluster devices test: it needs PostgreSQL and Redis')

const DEVICES = '/api/myntrix/devices'
const TTL_MS = 2000
const RENEW_MS = 500
const FAST = { MYNTRIX_LEASE_TTL_MS: String(TTL_MS), MYNTRIX_LEASE_RENEW_MS: String(RENEW_MS) }
/** Marlin temperature reports every 200 ms: telemetry to watch. */
const SIM = { connectionString: 'sim://marlin', configuration: { temperatureIntervalMs: 200 } }

describe.skipIf(!postgres || !hasRedis)('devices across three server processes', () => {
  let testDb: TestDatabase
  let cluster: ClusterServers
  const paused: number[] = []
  const cleanups: (() => Promise<void> | void)[] = []

  afterEach(async () => {
    for (const pid of paused.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        // gone
      }
    }
    await cluster?.stopAll()
    for (const c of cleanups.splice(0)) await c()
    await testDb?.drop()
  })

  async function start(names: string[]) {
    testDb = await postgres!.createDatabase()
    cluster = new ClusterServers(testDb, REDIS_URL, FAST)
    // One at a time: the first runs the migrations.
    for (const name of names) await cluster.boot(name)
  }

  async function createSim(through: string, name: string): Promise<string> {
    const created = await cluster.call(through, 'POST', DEVICES, { name, ...SIM })
    expect(created.status).toBe(201)
    // Network and simulated devices may be held by any node.
    expect(created.body.nodeAffinity).toBeNull()
    return created.body.id as string
  }

  const statusVia = async (name: string, id: string) =>
    (await cluster.call(name, 'GET', `${DEVICES}/${id}`)).body as {
      status: string
      lastError?: string | null
    }

  it('connected through A, commanded through B, its telemetry live on C; a connect through C opens nothing', async () => {
    await start(['node-a', 'node-b', 'node-c'])
    const id = await createSim('node-a', 'printer')

    const connected = await cluster.call('node-a', 'POST', `${DEVICES}/${id}/connect`)
    expect(connected.status).toBe(200)
    expect(connected.body.status).toBe('connected')
    const held = await cluster.holder('device', id)
    expect(held?.name).toBe('node-a')

    // Commanded through B: A's connection answers.
    const reply = await cluster.call('node-b', 'POST', `${DEVICES}/${id}/command`, { command: 'M105' })
    expect(reply.status).toBe(200)
    expect(reply.body.ok).toBe(true)
    expect(JSON.stringify(reply.body.response)).toMatch(/T:/)
    // B and C read the holder's status from the row.
    expect((await statusVia('node-c', id)).status).toBe('connected')

    // Telemetry on a WebSocket on C: the first frames from the shared snapshot, then live frames.
    const ws = new WebSocket(
      `${cluster.url('node-c').replace('http', 'ws')}/ws/myntrix/telemetry/${id}?token=${await cluster.token()}`,
    )
    const frames: { type: string; ts?: string; payload?: Record<string, unknown>; at: number }[] = []
    ws.on('message', (m) => frames.push({ ...JSON.parse(String(m)), at: Date.now() }))
    cleanups.push(() => ws.close())
    await waitFor(() => frames.some((f) => f.type === 'status'), { what: 'the first status frame on C' })
    const status = frames.find((f) => f.type === 'status')!
    expect(status.payload?.status).toBe('connected')
    const live = await waitFor(
      () => {
        const got = frames.filter((f) => f.type === 'telemetry' && f.ts && 'temperature' in (f.payload ?? {}))
        return got.length >= 5 ? got.slice(-5) : null
      },
      { what: `A's telemetry on C (got ${JSON.stringify(frames).slice(0, 400)})`, timeoutMs: 20_000 },
    )
    // One host, one clock: from the holder's reading to C's client.
    const delays = live.map((f) => f.at - Date.parse(f.ts!)).sort((a, b) => a - b)
    console.log(`telemetry A -> WebSocket on C: delays ${delays.join(', ')} ms (median ${delays[2]} ms)`)
    expect(delays.every((d) => d >= 0)).toBe(true)

    // A second WebSocket on C starts with the last readings (the shared snapshot), not nothing.
    const second = new WebSocket(
      `${cluster.url('node-c').replace('http', 'ws')}/ws/myntrix/telemetry/${id}?token=${await cluster.token()}`,
    )
    const firstFrames: { type: string; payload?: Record<string, unknown> }[] = []
    second.on('message', (m) => firstFrames.push(JSON.parse(String(m))))
    cleanups.push(() => second.close())
    await waitFor(() => firstFrames.length >= 2, { what: 'the first two frames of a new socket on C' })
    expect(firstFrames[0]?.type).toBe('status')
    expect(firstFrames[1]?.type).toBe('telemetry')
    expect(firstFrames[1]?.payload).toHaveProperty('temperature')
    // The readings history is the holder's, from any node.
    const history = await cluster.call('node-c', 'GET', `${DEVICES}/${id}/telemetry?limit=5`)
    expect(history.status).toBe(200)
    expect(history.body.length).toBeGreaterThan(0)
    expect(history.body[0].readings).toHaveProperty('temperature')
    expect(Number.isNaN(Date.parse(history.body[0].ts))).toBe(false)

    // Connect through C: answered by the holder, nothing opened on C (same holder, same epoch).
    const again = await cluster.call('node-c', 'POST', `${DEVICES}/${id}/connect`)
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ id, status: 'connected' })
    expect(await cluster.holder('device', id)).toEqual(held)

    // A transfer runs on the holder (uploaded through A): paused through B, resumed through C,
    // cancelled through B; each answered by A's transfer, its progress seen on C.
    const { body: file, headers } = multipart([
      { name: 'file', filename: 'slow.gcode', content: 'G4 P100\n'.repeat(100) },
    ])
    const sent = await cluster.send('node-a', 'POST', `${DEVICES}/${id}/upload`, file, headers)
    expect(sent.status).toBe(202)
    const jobId = sent.body.job.id as string
    const job = (name: string) =>
      cluster.call(name, 'GET', `/api/myntrix/jobs/${jobId}`).then((r) => r.body as Record<string, any>)
    expect((await cluster.call('node-b', 'POST', `/api/myntrix/jobs/${jobId}/pause`)).status).toBe(200)
    await waitFor(async () => ((await job('node-c')).details?.paused === true ? job('node-c') : null), {
      what: 'the transfer paused through B',
    })
    // Paused: once the line in flight is done, no line is acknowledged.
    await new Promise((r) => setTimeout(r, 400))
    const at = (await job('node-b')).details.linesAcknowledged as number
    await new Promise((r) => setTimeout(r, 800))
    expect((await job('node-b')).details.linesAcknowledged).toBe(at)
    expect((await cluster.call('node-c', 'POST', `/api/myntrix/jobs/${jobId}/resume`)).status).toBe(200)
    await waitFor(async () => (await job('node-c')).details?.linesAcknowledged > at, {
      what: 'the transfer resumed through C',
    })
    const cancelled = await cluster.call('node-b', 'POST', `/api/myntrix/jobs/${jobId}/cancel`)
    expect(cancelled.status).toBe(200)
    const ended = await waitFor(
      async () => ((await job('node-c')).status === 'cancelled' ? job('node-c') : null),
      {
        what: 'the transfer cancelled through B',
      },
    )
    expect(ended.details.linesAcknowledged).toBeLessThan(100)
    // A pause of a finished transfer is 409 from any node, as on one.
    expect((await cluster.call('node-c', 'POST', `/api/myntrix/jobs/${jobId}/pause`)).status).toBe(409)

    // Upload through A, send through B: the transfer starts on A (the holder), its progress
    // live on a jobs WebSocket on C.
    const progressOnC: number[] = []
    const jobsOnC = new WebSocket(
      `${cluster.url('node-c').replace('http', 'ws')}/ws/myntrix/jobs?token=${await cluster.token()}`,
    )
    cleanups.push(() => jobsOnC.close())
    let sentJobId = ''
    jobsOnC.on('message', (data) => {
      const m = JSON.parse(String(data))
      if (m.type === 'job' && m.payload?.id === sentJobId) progressOnC.push(m.payload.progress as number)
    })
    await new Promise((resolve) => jobsOnC.once('open', resolve))
    const stored = multipart([{ name: 'file', filename: 'moves.gcode', content: 'G4 P20\n'.repeat(60) }])
    const upload = await cluster.send(
      'node-a',
      'POST',
      `${DEVICES}/${id}/upload?send=false`,
      stored.body,
      stored.headers,
    )
    expect(upload.status).toBe(200)
    const viaB = await cluster.call('node-b', 'POST', `${DEVICES}/${id}/files/${upload.body.file.id}/send`)
    expect(viaB.status, JSON.stringify(viaB.body)).toBe(202)
    sentJobId = viaB.body.job.id as string
    const done = await waitFor(
      async () => {
        const j = await cluster.call('node-c', 'GET', `/api/myntrix/jobs/${sentJobId}`)
        return j.body.status === 'completed' ? j.body : null
      },
      { what: 'the transfer sent through B to complete', timeoutMs: 60_000 },
    )
    expect(done.details).toMatchObject({ deviceId: id, linesAcknowledged: 60, totalLines: 60 })
    await waitFor(() => progressOnC.includes(100), { what: 'the progress of the transfer on C' })
    expect(progressOnC.some((p) => p > 0 && p < 100)).toBe(true)
    // A second send through C while A streams is the holder's answer: one transfer per device.
    const busy = await cluster.call('node-c', 'POST', `${DEVICES}/${id}/files/${upload.body.file.id}/send`)
    expect(busy.status).toBe(202)
    const twice = await cluster.call('node-b', 'POST', `${DEVICES}/${id}/files/${upload.body.file.id}/send`)
    expect(twice.status).toBe(409)
    expect(String(twice.body.detail)).toContain('already receiving a file')
    await cluster.call('node-b', 'POST', `/api/myntrix/jobs/${busy.body.job.id}/cancel`)

    // Disconnect through B closes A's connection and frees the lease; a command then is 409 anywhere.
    const off = await cluster.call('node-b', 'POST', `${DEVICES}/${id}/disconnect`)
    expect(off.body.status).toBe('disconnected')
    expect(await cluster.holder('device', id)).toBeNull()
    const refused = await cluster.call('node-a', 'POST', `${DEVICES}/${id}/command`, { command: 'M105' })
    expect(refused.status).toBe(409)
    await waitFor(() => frames.some((f) => f.type === 'status' && f.payload?.status === 'disconnected'), {
      what: 'the disconnected status on C',
    })
  }, 180_000)

  it.skipIf(!hasSocat)(
    'kill -9 of the holder: a survivor takes the unpinned device; the pinned one is reported node lost',
    async () => {
      await start(['node-a', 'node-b', 'node-c'])
      const ptyDir = makePtyDir()
      const pty: PtyPair = await startPtyPair(ptyDir)
      cleanups.push(async () => {
        await pty.stop()
        removePtyDir(ptyDir)
      })
      const free = await createSim('node-a', 'free printer')
      const serial = await cluster.call('node-a', 'POST', DEVICES, {
        name: 'pinned board',
        connectionString: `serial://${pty.devicePath}?baudRate=115200`,
      })
      expect(serial.status).toBe(201)
      // The port is on the creating node's host.
      expect(serial.body.nodeAffinity).toBe('node-a')
      const pinned = serial.body.id as string

      // Both connected through B: the sim device is held by B, the serial one by A (its pin).
      expect((await cluster.call('node-b', 'POST', `${DEVICES}/${free}/connect`)).body.status).toBe(
        'connected',
      )
      expect((await cluster.call('node-b', 'POST', `${DEVICES}/${pinned}/connect`)).body.status).toBe(
        'connected',
      )
      expect((await cluster.holder('device', pinned))?.name).toBe('node-a')
      // The unpinned one onto A as well, so killing A loses both: disconnect and connect through A.
      await cluster.call('node-b', 'POST', `${DEVICES}/${free}/disconnect`)
      expect((await cluster.call('node-a', 'POST', `${DEVICES}/${free}/connect`)).body.status).toBe(
        'connected',
      )
      const before = await cluster.holder('device', free)
      expect(before?.name).toBe('node-a')

      const killedAt = Date.now()
      await cluster.kill('node-a')
      const after = await waitFor(
        async () => {
          const h = await cluster.holder('device', free)
          if (!h || h.name === 'node-a') return null
          return (await statusVia('node-b', free)).status === 'connected' ? h : null
        },
        { what: 'a survivor to hold and connect the unpinned device', timeoutMs: TTL_MS + RENEW_MS + 20_000 },
      )
      const tookMs = Date.now() - killedAt
      console.log(
        `unpinned device connected again on ${after.name} ${tookMs} ms after kill -9 (TTL ${TTL_MS} + renew ${RENEW_MS})`,
      )
      expect(['node-b', 'node-c']).toContain(after.name)
      expect(after.epoch).toBeGreaterThan(before!.epoch)

      const lost = await waitFor(
        async () => {
          const d = await statusVia('node-c', pinned)
          return d.lastError?.startsWith('node lost') ? d : null
        },
        { what: 'the pinned device reported node lost', timeoutMs: 20_000 },
      )
      expect(lost.status).toBe('error')
      expect(lost.lastError).toContain('node-a')
      // Never taken over: no survivor can reach that port.
      expect(await cluster.holder('device', pinned)).toBeNull()
      // And commands through a survivor say it is not connected.
      expect(
        (await cluster.call('node-b', 'POST', `${DEVICES}/${pinned}/command`, { command: 'x' })).status,
      ).toBe(409)
    },
    180_000,
  )

  it('a holder paused past its lease changes nothing when it wakes and closes its own connection', async () => {
    await start(['node-a', 'node-b'])
    const id = await createSim('node-a', 'paused printer')
    expect((await cluster.call('node-a', 'POST', `${DEVICES}/${id}/connect`)).body.status).toBe('connected')
    const before = await cluster.holder('device', id)
    expect(before?.name).toBe('node-a')

    const pid = cluster.serverPid('node-a')
    process.kill(pid, 'SIGSTOP')
    paused.push(pid)
    const taken = await waitFor(
      async () => {
        const h = await cluster.holder('device', id)
        if (h?.name !== 'node-b') return null
        return (await statusVia('node-b', id)).status === 'connected' ? h : null
      },
      { what: 'B to hold and connect the device while A is paused', timeoutMs: 30_000 },
    )
    expect(taken.epoch).toBeGreaterThan(before!.epoch)
    // B's connection is the live one: an error it reports is what the row must keep.
    const marker = await cluster.call('node-b', 'POST', `${DEVICES}/${id}/command`, { command: 'M105' })
    expect(marker.status).toBe(200)

    process.kill(pid, 'SIGCONT')
    paused.splice(paused.indexOf(pid), 1)
    const a = cluster.servers.get('node-a')!
    await waitFor(() => a.output().includes('lost the lease on a connected device'), {
      what: `A to close its own connection (its output: ${a.output().slice(-600)})`,
      timeoutMs: 20_000,
    })
    // Several renewal intervals after A woke: B still holds it, the row says what B's connection says.
    await new Promise((r) => setTimeout(r, RENEW_MS * 6))
    expect(await cluster.holder('device', id)).toEqual(taken)
    const viaA = await statusVia('node-a', id)
    expect(viaA).toMatchObject({ status: 'connected', lastError: null })
    // A answers through B now: a command through A reaches B's connection.
    expect(
      (await cluster.call('node-a', 'POST', `${DEVICES}/${id}/command`, { command: 'M105' })).status,
    ).toBe(200)
  }, 180_000)
})
