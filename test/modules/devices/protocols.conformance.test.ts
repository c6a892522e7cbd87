// Every registered protocol passes this suite: a command is one line on the
// wire; the dialect's answer completes the command in flight with `ok`, once;
// its failure answer completes it with a message and never with `ok`; a line
// with nothing in flight completes nothing; a periodic report is telemetry,
// not an answer; and its handshake (where it has one) completes against the
// firmware's own emulator, reporting the firmware. Each dialect's lines are
// real ones (see the emulators and docs/DEVICES.md).

import { describe, expect, it } from 'vitest'
import { TimeoutError } from '../../../src/errors.js'
import { resolveConfiguration } from '../../../src/modules/devices/configuration.js'
import { protocols } from '../../../src/modules/devices/protocols/index.js'
import type {
  CommandResult,
  Protocol,
  ProtocolEvent,
  ProtocolSession,
} from '../../../src/modules/devices/protocols/types.js'
import { type EmulatorName, emulators } from '../../../src/modules/devices/sim/index.js'

interface Fixture {
  command: string
  /** The dialect's answer to `wire` (the encoded command) that completes it successfully. */
  ok(wire: string): string
  /** Its answer that refuses the command, and the event that carries it; null where the dialect has none. */
  failure: { line(wire: string): string; kind: 'fail' | 'alarm' } | null
  /** A report the device sends on its own; null where the dialect has none. */
  report: string | null
  /** The emulator to run the handshake against (null: no emulator, the far end is an MQTT client). */
  emulator: EmulatorName | null
  /** What the handshake reports as the firmware, where it asks. */
  firmware: RegExp | null
}

const mqttAnswer = (wire: string, body: Record<string, unknown>) =>
  `response ${JSON.stringify({ id: JSON.parse(wire).id, ...body })}`

const fixtures: Record<string, Fixture> = {
  line: {
    command: 'hello',
    ok: () => 'echo hello',
    failure: null,
    report: null,
    emulator: 'line',
    firmware: null,
  },
  jsonl: {
    command: '{"cmd":"read"}',
    ok: () => '{"ok":true,"value":1}',
    failure: { line: () => '{"ok":false,"error":"refused"}', kind: 'fail' },
    report: '{"temperature":21.5}',
    emulator: 'jsonl',
    firmware: null,
  },
  marlin: {
    command: 'G28',
    ok: () => 'ok',
    failure: { line: () => 'Error:Printer halted. kill() called!', kind: 'alarm' },
    report: ' T:21.0 /0.0 B:21.0 /0.0 @:0 B@:0',
    emulator: 'marlin',
    firmware: /^Marlin /,
  },
  grbl: {
    command: 'G0 X1',
    ok: () => 'ok',
    failure: { line: () => 'error:20', kind: 'fail' },
    report: '<Idle|MPos:0.000,0.000,0.000|FS:0,0>',
    emulator: 'grbl',
    firmware: /^Grbl /,
  },
  mqtt: {
    command: 'open valve',
    ok: (wire) => mqttAnswer(wire, { ok: true, response: ['opened'] }),
    failure: { line: (wire) => mqttAnswer(wire, { ok: false, error: 'will not' }), kind: 'fail' },
    report: 'telemetry {"temperature":21.5}',
    emulator: null,
    firmware: null,
  },
}

const COMPLETIONS = new Set(['ok', 'fail', 'alarm'])
const completions = (events: ProtocolEvent[]) => events.filter((e) => COMPLETIONS.has(e.kind))

/**
 * A session that writes each command to the emulator and completes it on the
 * protocol's reading of the lines that come back: only what a handshake needs
 * (one command at a time, its timeout). `firmware` collects what the lines
 * report as the firmware.
 */
function emulatorSession(protocol: Protocol, name: EmulatorName) {
  const config = resolveConfiguration({}, 'line')
  const emulator = emulators[name]()
  const firmware: string[] = []
  let pending: { text: string; lines: string[]; settle(result: CommandResult): void } | null = null
  let buffer = ''
  emulator.onOutput((data) => {
    buffer += data
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl).replace(/\r$/, '')
      buffer = buffer.slice(nl + 1)
      const current = pending
      for (const event of protocol.onLine(line, current?.text ?? null)) {
        if (event.kind === 'firmware') firmware.push(event.version)
        if (event.kind === 'response') current?.lines.push(line)
        if (event.kind === 'ok' || event.kind === 'fail') {
          current?.settle({
            ok: event.kind === 'ok',
            message: event.kind === 'ok' ? 'ok' : event.message,
            response: [...(current?.lines ?? []), line],
            durationMs: 0,
          })
        }
      }
    }
  })
  const session: ProtocolSession = {
    config,
    command: (text, options) =>
      new Promise<CommandResult>((resolve, reject) => {
        const timeoutMs = options?.timeoutMs ?? config.commandTimeoutMs
        const timer = setTimeout(() => {
          pending = null
          reject(Object.assign(new TimeoutError(`no answer to ${text}`), { timedOut: true }))
        }, timeoutMs)
        pending = {
          text,
          lines: [],
          settle: (result) => {
            clearTimeout(timer)
            pending = null
            resolve(result)
          },
        }
        emulator.write(protocol.encode(text))
      }),
    writeRealtime: async (data) => emulator.write(data),
  }
  return { session, firmware, stop: () => emulator.stop() }
}

it('every registered protocol has lines in this suite', () => {
  expect(Object.keys(fixtures).sort()).toEqual(Object.keys(protocols).sort())
})

describe.each(Object.entries(protocols))('protocol %s', (name, make) => {
  const fixture = fixtures[name]!
  const protocol = () => make(resolveConfiguration({}, 'line'))

  it('encodes a command as one line that carries it', () => {
    const wire = protocol().encode(fixture.command)
    expect(wire.endsWith('\n')).toBe(true)
    expect(wire.slice(0, -1)).not.toMatch(/\n/)
    expect(wire).toContain(fixture.command)
  })

  it('its answer completes the command in flight with ok, once', () => {
    const p = protocol()
    const wire = p.encode(fixture.command)
    const events = completions(p.onLine(fixture.ok(wire), fixture.command))
    expect(events).toEqual([expect.objectContaining({ kind: 'ok' })])
  })

  it.skipIf(fixture.failure === null)(
    'its failure answer completes the command with a message, never ok',
    () => {
      const p = protocol()
      const wire = p.encode(fixture.command)
      const events = completions(p.onLine(fixture.failure!.line(wire), fixture.command))
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({ kind: fixture.failure!.kind, message: expect.stringMatching(/\S/) })
    },
  )

  it('a line with nothing in flight completes nothing', () => {
    const p = protocol()
    const wire = p.encode(fixture.command)
    for (const line of [fixture.report ?? fixture.ok(wire), '']) {
      const events = p.onLine(line, null)
      expect(events.filter((e) => COMPLETIONS.has(e.kind) || e.kind === 'response')).toEqual([])
    }
  })

  it.skipIf(fixture.report === null)(
    'a periodic report is telemetry marked as a report, not an answer',
    () => {
      const p = protocol()
      p.encode(fixture.command)
      for (const pending of [null, fixture.command]) {
        const events = p.onLine(fixture.report!, pending)
        expect(events.length).toBeGreaterThan(0)
        expect(events.every((e) => e.kind === 'telemetry' && e.report === true)).toBe(true)
      }
    },
  )

  it.skipIf(fixture.emulator === null)('completes its handshake against its emulator', async () => {
    const p = protocol()
    const { session, firmware, stop } = emulatorSession(p, fixture.emulator!)
    try {
      // A dialect without a handshake is ready at once: its first command is answered.
      if (p.handshake) await p.handshake(session)
      else expect(await session.command(fixture.command)).toMatchObject({ ok: true })
      if (fixture.firmware) expect(firmware).toEqual([expect.stringMatching(fixture.firmware)])
      else expect(firmware).toEqual([])
    } finally {
      stop()
    }
  })
})
