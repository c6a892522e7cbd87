// Interrupted transfers and restarts from a line, through the API to emulators
// behind real socat ptys: an unplugged printer, a firmware that resets or
// alarms mid-job, and a restart whose received log shows the preamble and then
// exactly the lines that were left, none before them and none skipped.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { GcodeLineSplitter } from '../../../src/modules/firmware/gcode.js'
import { ModalStateTracker } from '../../../src/modules/firmware/modal-state.js'
import { buildPreamble } from '../../../src/modules/firmware/preamble.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../../helpers/pty.js'
import { EmulatorProcess } from '../devices/support.js'
import { gcode, jobFinished, jobWhere, serialDevice, upload } from './support.js'

if (!hasSocat) console.warn('skipping restart tests over ptys: socat is not installed')

/** Long enough that a job is still running when the test acts on it. */
const N = 3000

const acked = (j: { details: Record<string, unknown> | null }) => Number(j.details?.linesAcknowledged ?? 0)

describe.skipIf(!hasSocat).each(testEngines())('interrupted transfers and restarts on $name', (engine) => {
  let t: TestApp
  let dir: string
  let pty: PtyPair | null
  let emulator: EmulatorProcess | null

  beforeEach(async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_TRANSFER_CHECKPOINT_LINES: '5' } })
    dir = makePtyDir()
    pty = null
    emulator = null
  })
  afterEach(async () => {
    await t.dispose()
    await unplug()
    removePtyDir(dir)
  })

  async function plug(firmware: 'marlin' | 'grbl') {
    pty = await startPtyPair(dir)
    emulator = await EmulatorProcess.start('pty-emulator.ts', [firmware, pty.emulatorPath, '{}'])
  }

  async function unplug() {
    await emulator?.kill()
    await pty?.stop()
    emulator = null
    pty = null
  }

  async function connect(id: string) {
    const res = await t.request('POST', `/api/myntrix/devices/${id}/connect`, { as: t.operator })
    expect(res.status).toBe(200)
  }

  async function machine(firmware: 'marlin' | 'grbl') {
    await plug(firmware)
    return serialDevice(t, dir, firmware, firmware === 'marlin' ? 'printer' : 'mill')
  }

  /** Sends a long file and resolves once more than `lines` of it are acknowledged. */
  async function sendUntil(id: string, lines: number) {
    const file = gcode(N)
    const res = await upload(t, id, 'cube.gcode', file.text)
    const jobId = res.body.job.id as string
    await jobWhere(t, jobId, (j) => acked(j) > lines)
    return { file, jobId }
  }

  /** A command through the API, answered: everything queued before it has gone out. */
  async function command(id: string, text: string) {
    const res = await t.request('POST', `/api/myntrix/devices/${id}/command`, {
      as: t.operator,
      body: { command: text },
    })
    expect(res.status).toBe(200)
  }

  it('marlin unplugged mid-job: interrupted at its checkpoint, nothing sent after replug, restart sends the preamble then exactly the rest', async () => {
    const id = await machine('marlin')
    const { file, jobId } = await sendUntil(id, 40)
    await unplug()
    expect((await jobFinished(t, jobId)).status).toBe('interrupted')
    const old = (await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })).body
    expect(old.details.reason).toMatch(/disconnected|timeout/)
    // The checkpoint is the last acknowledged line: its byte offset and the state it leaves.
    const last = old.details.lastAcknowledgedLine as number
    expect(old.checkpoint).toMatchObject({ lastAckedLine: last })
    const lines = file.text.split('\n')
    expect(old.checkpoint.fileOffset).toBe(lines.slice(0, last).join('\n').length + 1)
    expect(old.checkpoint.modalState).toMatchObject({
      line: last,
      x: (last - 1) % 100,
      y: last - 1,
      feed: 3000,
      motion: 'G1',
    })

    // Plugged back in and reconnected: nothing of the job goes out by itself.
    await plug('marlin')
    await connect(id)
    await command(id, 'M105')
    expect(emulator!.received().filter((l) => l.startsWith('G1'))).toEqual([])

    const preview = await t.request('GET', `/api/myntrix/jobs/${jobId}/restart-preview`, { as: t.operator })
    expect(preview.status).toBe(200)
    expect(preview.body).toMatchObject({
      fromLine: last + 1,
      machine: 'printer',
      remainingLines: N + 1 - last,
    })
    expect(preview.body.firstLines[0]).toEqual({ line: last + 1, text: file.moves[last - 1] })
    expect(preview.body.preamble.lines).toEqual([
      'G21',
      'G90',
      'M82',
      'G92 E0',
      'M107',
      'G28 X Y',
      'G1 F3000',
    ])

    // Never without confirm: true; never by a viewer; another owner's job does not exist for them.
    const path = `/api/myntrix/jobs/${jobId}/restart`
    expect((await t.request('POST', path, { as: t.operator, body: {} })).status).toBe(400)
    expect((await t.request('POST', path, { as: t.operator, body: { confirm: false } })).status).toBe(400)
    expect((await t.request('POST', path, { as: t.viewer, body: { confirm: true } })).status).toBe(403)
    expect((await t.request('POST', path, { as: t.operator2, body: { confirm: true } })).status).toBe(404)
    expect(
      (await t.request('GET', `/api/myntrix/jobs/${jobId}/restart-preview`, { as: t.operator2 })).status,
    ).toBe(404)
    const past = await t.request('POST', path, { as: t.operator, body: { confirm: true, fromLine: N + 2 } })
    expect(past.status).toBe(400)
    expect(past.body.errors[0].path).toBe('fromLine')
    expect(emulator!.received().filter((l) => l.startsWith('G'))).toEqual([])

    const before = emulator!.received().length
    const restarted = await t.request('POST', path, { as: t.operator, body: { confirm: true } })
    expect(restarted.status).toBe(202)
    const newId = restarted.body.job.id as string
    expect(restarted.body.job.restartOf).toBe(jobId)
    const done = await jobFinished(t, newId, 60_000)
    expect(done.status).toBe('completed')
    await emulator!.waitForLine(new RegExp(`^rx ${file.moves[N - 1]}$`))
    expect(emulator!.received().slice(before)).toEqual([
      ...preview.body.preamble.lines,
      ...file.moves.slice(last - 1),
    ])
    const logs = (await t.request('GET', `/api/myntrix/jobs/${newId}`, { as: t.operator })).body.logs
    expect(logs).toContain(`restart of job ${jobId} by operator from line ${last + 1}`)
    expect(logs).toContain('  G28 X Y')
    // A completed job has nothing left to restart.
    const again = await t.request('POST', `/api/myntrix/jobs/${newId}/restart`, {
      as: t.operator,
      body: { confirm: true, fromLine: 2 },
    })
    expect(again.status).toBe(409)
  })

  it('marlin reset banner mid-job: interrupted, and nothing more of the file reaches the printer', async () => {
    const id = await machine('marlin')
    const { file, jobId } = await sendUntil(id, 30)
    await emulator!.hook('reset')
    const job = await jobFinished(t, jobId)
    expect(job.status).toBe('interrupted')
    const full = (await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })).body
    expect(full.details.reason).toBe('firmware')
    expect(full.error).toMatch(/the printer stopped the job: the firmware restarted/)
    expect(full.checkpoint.lastAckedLine).toBe(full.details.lastAcknowledgedLine)
    await command(id, 'M105')
    const sent = emulator!.received().filter((l) => l.startsWith('G1'))
    // At most the line that was on the wire at the reset went out after the checkpoint.
    expect(sent).toEqual(file.moves.slice(0, sent.length))
    expect(sent.length - (full.checkpoint.lastAckedLine - 1)).toBeLessThanOrEqual(1)
  })

  it("an operator's disconnect mid-job: interrupted with its checkpoint, and nothing of the file after a reconnect", async () => {
    const id = await machine('marlin')
    const { jobId } = await sendUntil(id, 30)
    const off = await t.request('POST', `/api/myntrix/devices/${id}/disconnect`, { as: t.operator })
    expect(off.status).toBe(200)
    const job = await jobFinished(t, jobId)
    expect(job.status).toBe('interrupted')
    const full = (await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })).body
    expect(full.details.reason).toBe('disconnected')
    expect(full.checkpoint.lastAckedLine).toBe(full.details.lastAcknowledgedLine)
    const executed = emulator!.received().filter((l) => l.startsWith('G1')).length
    await connect(id)
    await command(id, 'M105')
    expect(emulator!.received().filter((l) => l.startsWith('G1'))).toHaveLength(executed)
  })

  it('marlin M112 through the command endpoint mid-job goes out at once, past the line holding its ok, and interrupts the job', async () => {
    const id = await machine('marlin')
    const { file, jobId } = await sendUntil(id, 30)
    // The next line the printer executes holds its ok for 8 s (a heat-up, a long move).
    await emulator!.hook('delay-next', '8000')
    const halt = await t.request('POST', `/api/myntrix/devices/${id}/command`, {
      as: t.operator,
      body: { command: 'M112' },
    })
    // Sent, not queued behind that line: a queued M112 would answer with the halt, after it.
    expect(halt.status).toBe(200)
    expect(halt.body).toMatchObject({ ok: true, response: [] })
    const job = await jobFinished(t, jobId)
    expect(job.status).toBe('interrupted')
    const full = (await t.request('GET', `/api/myntrix/jobs/${jobId}`, { as: t.operator })).body
    expect(full.details.reason).toBe('firmware')
    expect(full.error).toMatch(/the printer stopped the job: .*kill\(\) called/)
    // Nothing after the halt: what the printer executed is a beginning of the file, far from its end.
    const executed = emulator!.received().filter((l) => l.startsWith('G1'))
    expect(executed).toEqual(file.moves.slice(0, executed.length))
    expect(executed.length).toBeLessThan(N / 2)
    const device = (await t.request('GET', `/api/myntrix/devices/${id}`, { as: t.operator })).body
    expect(device.status).toBe('error')
  })

  it('grbl alarm mid-job: interrupted; a restart from a line in the middle of a CAM file rebuilds units, work offset and spindle, then sends the rest', async () => {
    const text = readFileSync(join(import.meta.dirname, '../../fixtures/gcode/fusion-pocket.nc'), 'latin1')
    const id = await machine('grbl')
    // Once a command is answered nothing of the connection's own is left to take the alarm meant for the file.
    await command(id, '$I')
    await emulator!.hook('alarm-next', '2')
    const res = await upload(t, id, 'pocket.nc', text)
    const jobId = res.body.job.id as string
    const job = await jobFinished(t, jobId)
    expect(job.status).toBe('interrupted')
    expect(job.checkpoint).toMatchObject({ lastAckedLine: 0, fileOffset: 0 })
    await command(id, '$X')
    // The answer can reach the server before the emulator's own log line: count from after it.
    await emulator!.waitForLine(/^rx \$X$/)

    const before = emulator!.received().length
    const restarted = await t.request('POST', `/api/myntrix/jobs/${jobId}/restart`, {
      as: t.operator,
      body: { confirm: true, fromLine: 29 },
    })
    expect(restarted.status).toBe(202)
    // The preamble is the one the parser and builder give for the state before line 29 (their own tests check it by hand).
    const tracker = new ModalStateTracker()
    for (const l of text.split('\n').slice(0, 28)) tracker.feed(l)
    expect(restarted.body.plan.preamble.lines).toEqual(buildPreamble(tracker.state, { kind: 'cnc' }).lines)
    expect(restarted.body.plan.preamble.lines).toContain('G54')
    expect(restarted.body.plan.preamble.lines).toContain('M3 S12000')
    const done = await jobFinished(t, restarted.body.job.id, 30_000)
    expect(done.status).toBe('completed')
    const splitter = new GcodeLineSplitter()
    const rest = [...splitter.push(text), ...splitter.end()].filter((l) => l.line >= 29)
    expect(rest[0]!.text).toBe('G1 Z-3. F300.')
    // GRBL's received log is each line as it parsed it: no spaces, upper case.
    const squeeze = (l: string) => l.replace(/\s+/g, '').toUpperCase()
    await emulator!.waitForLine(/^rx M30$/)
    expect(emulator!.received().slice(before)).toEqual(
      [...restarted.body.plan.preamble.lines, ...rest.map((l) => l.text)].map(squeeze),
    )
  })

  it('grbl stall: a lost ok queries the controller, raises device.stalled, and interrupts after the second wait', async () => {
    await plug('grbl')
    const id = await serialDevice(t, dir, 'grbl', 'mill', { stallTimeoutMs: 300 })
    const stalls: string[] = []
    const off = t.app.myntrix.context.bus.on('device.stalled', (e) => {
      if (e.deviceId === id) stalls.push(e.message)
    })
    // The first move's ok is lost: every later ok frees the line before it, so the last line never clears.
    await emulator!.hook('mute')
    const res = await upload(t, id, 'part.nc', gcode(20).text)
    const job = await jobFinished(t, res.body.job.id)
    off()
    expect(job.status).toBe('interrupted')
    const full = (await t.request('GET', `/api/myntrix/jobs/${job.id}`, { as: t.operator })).body
    expect(full.error).toMatch(
      /^the stream stalled: nothing acknowledged for two waits of 300 ms with 1 line/,
    )
    expect(full.details.reason).toBe('timeout')
    expect(full.checkpoint.lastAckedLine).toBe(20)
    expect(stalls).toEqual([
      expect.stringMatching(
        /acknowledged nothing for 300 ms with 1 line\(s\) in flight; asked for its status/,
      ),
    ])
    expect(full.logs).toContain('stalled: GRBL acknowledged nothing for 300 ms')
  })

  it('grbl: a dwell longer than the stall timeout, reported as Run, is not a stall', async () => {
    await plug('grbl')
    const id = await serialDevice(t, dir, 'grbl', 'mill', { stallTimeoutMs: 300, statusPollMs: 100 })
    const stalls: string[] = []
    const off = t.app.myntrix.context.bus.on('device.stalled', (e) => {
      if (e.deviceId === id) stalls.push(e.message)
    })
    const res = await upload(t, id, 'dwell.nc', 'G0 X1\nG4 P1.2\nG0 X2\n')
    const job = await jobFinished(t, res.body.job.id)
    off()
    expect(job.status).toBe('completed')
    expect(stalls).toEqual([])
  })
})
