// Streamers against the Marlin-like and GRBL-like emulators over real socat
// pseudo-terminals and the real serialport stack, driven through the device
// connection's exclusive session exactly as the transfer does.

import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TransferError } from '../../../src/modules/device-files/errors.js'
import { RawStreamer } from '../../../src/modules/device-files/streamers/raw.js'
import { GcodeFileSource, RawFileSource } from '../../../src/modules/device-files/streamers/source.js'
import {
  DEFAULT_STREAMER_OPTIONS,
  type StreamControl,
  type Streamer,
} from '../../../src/modules/device-files/streamers/types.js'
import { DeviceConnection } from '../../../src/modules/devices/connection.js'
import { parseConnectionString } from '../../../src/modules/devices/connection-string.js'
import { GrblStreamer } from '../../../src/modules/firmware/grbl/streamer.js'
import { MarlinStreamer } from '../../../src/modules/firmware/marlin/streamer.js'
import { hasSocat, makePtyDir, type PtyPair, removePtyDir, startPtyPair } from '../../helpers/pty.js'
import { EmulatorProcess } from '../devices/support.js'

if (!hasSocat) console.warn('skipping device-files streamer tests: socat is not installed')

/** `n` distinct moves plus comments and blank lines that must never reach the wire. */
export function gcodeFile(n: number): { text: string; moves: string[] } {
  const moves: string[] = []
  let text = '; generated test file\n\n'
  for (let i = 1; i <= n; i++) {
    const move = `G1 X${i % 200}.${i % 10} Y${i} F3000`
    moves.push(move)
    text += i % 50 === 0 ? `${move} ; comment ${i}\n(block comment)\n\n` : `${move}\n`
  }
  return { text, moves }
}

function source(text: string) {
  return new GcodeFileSource(Readable.from([Buffer.from(text, 'latin1')]))
}

/** A control that stops when `stopWhen` says so and lets a test react to progress. */
function control(onProgress?: (s: Streamer) => void, streamer?: () => Streamer) {
  let stop = false
  const c: StreamControl & { stop(): void; clear(): void } = {
    shouldStop: () => stop,
    acknowledged: () => {},
    stalled: () => {},
    progressed: () => {
      if (onProgress && streamer) onProgress(streamer())
    },
    stop: () => {
      stop = true
    },
    clear: () => {
      stop = false
    },
  }
  return c
}

describe.skipIf(!hasSocat)('streamers over a pty', () => {
  let dir: string
  let pty: PtyPair | null
  let emulator: EmulatorProcess | null
  const connections: DeviceConnection[] = []
  const streamers: Streamer[] = []

  beforeEach(() => {
    dir = makePtyDir()
    pty = null
    emulator = null
  })

  afterEach(async () => {
    for (const s of streamers.splice(0)) s.close()
    for (const c of connections.splice(0)) await c.disconnect()
    await emulator?.kill()
    await pty?.stop()
    removePtyDir(dir)
  })

  async function device(firmware: 'marlin' | 'grbl', configuration: Record<string, unknown>) {
    pty = await startPtyPair(dir)
    emulator = await EmulatorProcess.start('pty-emulator.ts', [firmware, pty.emulatorPath, '{}'])
    const connection = new DeviceConnection({
      label: 'pty-device',
      target: parseConnectionString(`${dir}/device`, configuration),
      configuration: { protocol: firmware, ...configuration },
    })
    connections.push(connection)
    await connection.connect()
    return connection
  }

  const moveLines = (_firmware: 'marlin' | 'grbl') => emulator!.received().filter((l) => l.startsWith('G1'))

  describe('marlin', () => {
    it('streams a 2,000-line file to completion, every line once and in order', async () => {
      const connection = await device('marlin', { temperatureReport: 'off' })
      const { text, moves } = gcodeFile(2000)
      const streamer = new MarlinStreamer(source(text), 2000, text.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      const seen: number[] = []
      const c = control(
        (s) => seen.push(s.progress.linesAcknowledged),
        () => streamer,
      )
      expect(await connection.exclusive((session) => streamer.run(session, c))).toBe('done')
      expect(streamer.progress).toMatchObject({ linesSent: 2000, linesAcknowledged: 2000, resends: 0 })
      expect(streamer.progress.lastAcknowledged).toEqual({ line: expect.any(Number), text: moves[1999] })
      expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1))
      await emulator!.waitForLine(new RegExp(`^rx ${moves[1999]}$`))
      expect(moveLines('marlin')).toEqual(moves)
    })

    it('honours a resend mid-stream and still delivers every line once', async () => {
      const connection = await device('marlin', { temperatureReport: 'off' })
      const { text, moves } = gcodeFile(1000)
      const streamer = new MarlinStreamer(source(text), 1000, text.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      let hooked: Promise<void> | null = null
      const c = control(
        (s) => {
          // The emulator answers its next numbered line as corrupted: `Resend: N`.
          if (s.progress.linesAcknowledged === 100) hooked = emulator!.hook('resend')
        },
        () => streamer,
      )
      expect(await connection.exclusive((session) => streamer.run(session, c))).toBe('done')
      await hooked
      expect(streamer.progress.resends).toBe(1)
      await emulator!.waitForLine(new RegExp(`^rx ${moves[999]}$`))
      expect(moveLines('marlin')).toEqual(moves)
    })

    it('stops within one line when asked, and resumes where it stopped', async () => {
      const connection = await device('marlin', { temperatureReport: 'off' })
      const { text, moves } = gcodeFile(400)
      const streamer = new MarlinStreamer(source(text), 400, text.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      const c = control(
        (s) => {
          if (s.progress.linesAcknowledged === 150) c.stop()
        },
        () => streamer,
      )
      expect(await connection.exclusive((session) => streamer.run(session, c))).toBe('stopped')
      // Progress is recorded once the next line is on the wire: the stop asked
      // at 150 finds line 151 in flight, which completes, and nothing follows it.
      expect(streamer.progress.linesSent).toBe(151)
      expect(streamer.progress.linesAcknowledged).toBe(151)
      // While paused the wire is free: a command goes through at once.
      expect((await connection.command('M114')).ok).toBe(true)
      expect(moveLines('marlin')).toEqual(moves.slice(0, 151))
      c.clear()
      expect(await connection.exclusive((session) => streamer.run(session, c))).toBe('done')
      await emulator!.waitForLine(new RegExp(`^rx ${moves[399]}$`))
      expect(moveLines('marlin')).toEqual(moves)
    })

    it('lets a command queued during the stream through between two lines', async () => {
      const connection = await device('marlin', { temperatureReport: 'off' })
      const { text, moves } = gcodeFile(300)
      const streamer = new MarlinStreamer(source(text), 300, text.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      let queued: Promise<unknown> | null = null
      const c = control(
        (s) => {
          if (s.progress.linesAcknowledged === 50) queued = connection.command('M114')
        },
        () => streamer,
      )
      expect(await connection.exclusive((session) => streamer.run(session, c))).toBe('done')
      const result = (await queued!) as { ok: boolean; response: string[] }
      expect(result.ok).toBe(true)
      const rx = emulator!.received()
      const at = rx.indexOf('M114')
      // Somewhere after line 50 and well before the end of the file.
      expect(rx.slice(0, at).filter((l) => l.startsWith('G1')).length).toBeGreaterThanOrEqual(50)
      expect(rx.slice(0, at).filter((l) => l.startsWith('G1')).length).toBeLessThan(300)
      expect(moveLines('marlin')).toEqual(moves)
    })

    it('fails cleanly when the emulator dies mid-stream, naming the last acknowledged line', async () => {
      const connection = await device('marlin', { temperatureReport: 'off', autoReconnect: false })
      const { text } = gcodeFile(2000)
      const streamer = new MarlinStreamer(source(text), 2000, text.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      let killed: Promise<void> | null = null
      const c = control(
        (s) => {
          if (s.progress.linesAcknowledged === 200 && !killed)
            killed = emulator!.kill().then(() => pty!.stop())
        },
        () => streamer,
      )
      const err = await connection.exclusive((session) => streamer.run(session, c)).catch((e) => e)
      await killed
      expect(err).toBeInstanceOf(TransferError)
      expect(err.disconnected || err.timedOut).toBe(true)
      expect(streamer.progress.linesAcknowledged).toBeGreaterThanOrEqual(200)
      expect(streamer.progress.lastAcknowledged).not.toBeNull()
    })
  })

  describe('grbl', () => {
    it('streams a 2,000-line file with character counting, every line in order', async () => {
      const connection = await device('grbl', { statusPollMs: 100 })
      const { text, moves } = gcodeFile(2000)
      const streamer = new GrblStreamer(source(text), 2000, text.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      const c = control()
      expect(await connection.exclusive((session) => streamer.run(session, c))).toBe('done')
      expect(streamer.progress).toMatchObject({ linesSent: 2000, linesAcknowledged: 2000 })
      await emulator!.waitForLine(new RegExp(`^rx ${moves[1999]?.replace(/\s/g, '')}$`))
      expect(moveLines('grbl')).toEqual(moves.map((m) => m.replace(/\s/g, '')))
    })

    it('stops at error:N with the line number and message, after the buffered lines answered', async () => {
      const connection = await device('grbl', { statusPollMs: 0 })
      const { text } = gcodeFile(100)
      const lines = text.split('\n')
      // The 42nd move becomes an unsupported G-code.
      const bad = lines.findIndex((l) => l.startsWith('G1 X42.2 Y42 '))
      lines[bad] = 'G5 X1'
      const broken = lines.join('\n')
      const streamer = new GrblStreamer(source(broken), 100, broken.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      const err = await connection.exclusive((session) => streamer.run(session, control())).catch((e) => e)
      expect(err).toBeInstanceOf(TransferError)
      expect(err.firmware).toBe(true)
      expect(err.message).toMatch(new RegExp(`^line ${bad + 1} "G5 X1" failed: error:20`))
      // Nothing after the buffer's worth of lines that were already sent.
      expect(streamer.progress.linesSent).toBeLessThan(100)
      expect(streamer.progress.linesAcknowledged).toBe(streamer.progress.linesSent - 1)
      // The connection is still usable afterwards.
      expect((await connection.command('G0 X1')).ok).toBe(true)
    })

    it('lets queued commands and real-time queries through during a stream', async () => {
      const connection = await device('grbl', { statusPollMs: 0 })
      const { text, moves } = gcodeFile(1000)
      const streamer = new GrblStreamer(source(text), 1000, text.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      let queued: Promise<unknown> | null = null
      let realtime: Promise<unknown> | null = null
      const c = control(
        (s) => {
          if (s.progress.linesAcknowledged >= 100 && !queued) {
            queued = connection.command('$G')
            realtime = connection.command('?')
          }
        },
        () => streamer,
      )
      expect(await connection.exclusive((session) => streamer.run(session, c))).toBe('done')
      expect(await queued).toMatchObject({ ok: true, response: [expect.stringMatching(/^\[GC:/), 'ok'] })
      expect(await realtime).toMatchObject({ ok: true, response: [expect.stringMatching(/^<\w+\|/)] })
      expect(moveLines('grbl')).toEqual(moves.map((m) => m.replace(/\s/g, '')))
    })

    it('fails when the controller raises an alarm mid-stream', async () => {
      const connection = await device('grbl', { statusPollMs: 0 })
      const { text } = gcodeFile(500)
      const streamer = new GrblStreamer(source(text), 500, text.length, DEFAULT_STREAMER_OPTIONS)
      streamers.push(streamer)
      let hooked = false
      const c = control(
        (s) => {
          if (s.progress.linesAcknowledged >= 50 && !hooked) {
            hooked = true
            void emulator!.hook('alarm-next', '1')
          }
        },
        () => streamer,
      )
      const err = await connection.exclusive((session) => streamer.run(session, c)).catch((e) => e)
      expect(err).toBeInstanceOf(TransferError)
      expect(err.message).toMatch(/ALARM:1/)
    })
  })

  it('raw: sends bytes in chunks with the transport paced by its write callbacks', async () => {
    const connection = await device('marlin', { temperatureReport: 'off' })
    // Plain G-code sent as bytes reaches the firmware unchanged (no numbering).
    const { text, moves } = gcodeFile(500)
    const streamer = new RawStreamer(
      new RawFileSource(Readable.from([Buffer.from(text)])),
      { transferId: 't', name: 'x.bin', sizeBytes: text.length, sha256: '0'.repeat(64) },
      DEFAULT_STREAMER_OPTIONS,
      'bytes',
    )
    streamers.push(streamer)
    expect(await connection.exclusive((session) => streamer.run(session, control()))).toBe('done')
    expect(streamer.progress.bytesAcknowledged).toBe(text.length)
    // Raw means raw: the comments arrive too.
    await emulator!.waitForLine(/^rx G1 X100\.0 Y500 F3000 ; comment 500$/)
    expect(moveLines('marlin').map((l) => l.replace(/ ; comment \d+$/, ''))).toEqual(moves)
    expect(emulator!.received()).toContain('(block comment)')
  })
})
