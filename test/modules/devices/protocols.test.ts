// Parsing of firmware lines, without a link: what each dialect makes of
// lines real firmware prints.

import { describe, expect, it } from 'vitest'
import { resolveConfiguration } from '../../../src/modules/devices/configuration.js'
import { protocols } from '../../../src/modules/devices/protocols/index.js'
import type { ProtocolFactory } from '../../../src/modules/devices/protocols/types.js'
import { GrblProtocol } from '../../../src/modules/firmware/grbl/protocol.js'
import {
  MarlinProtocol,
  parsePosition,
  parseTemperatures,
} from '../../../src/modules/firmware/marlin/protocol.js'
import { marlinChecksum } from '../../../src/modules/firmware/marlin/wire.js'

/** A factory from the registry, as the connection looks it up. */
function protocol(name: string): ProtocolFactory {
  const factory = protocols[name]
  if (!factory) throw new Error(`no protocol ${name} in the registry`)
  return factory
}

describe('marlin', () => {
  it('parses temperature reports with targets, several hotends and the chamber', () => {
    expect(parseTemperatures('T:210.3 /210.0 B:60.1 /60.0 @:127 B@:0')).toEqual({
      temperature: 210.3,
      targetTemperature: 210,
      bedTemperature: 60.1,
      bedTargetTemperature: 60,
    })
    expect(parseTemperatures('T0:200.0 /200.0 T1:25.0 /0.0 B:60.0 /60.0 C:35.2 /0.0')).toMatchObject({
      temperature0: 200,
      temperature1: 25,
      bedTemperature: 60,
      chamberTemperature: 35.2,
    })
    expect(parseTemperatures('echo:busy: processing')).toBeNull()
  })

  it('parses M114 positions', () => {
    expect(parsePosition('X:10.00 Y:-2.50 Z:0.30 E:1.20 Count X:800 Y:-200 Z:120')).toEqual({
      positionX: 10,
      positionY: -2.5,
      positionZ: 0.3,
      positionE: 1.2,
    })
  })

  it('numbers lines with a valid checksum and keeps them for a resend', () => {
    const p = new MarlinProtocol(resolveConfiguration({}, 'marlin'))
    expect(p.encode('M110 N0')).toBe(`N0 M110 N0*${marlinChecksum('N0 M110 N0')}\n`)
    const first = p.encode('G28')
    const second = p.encode('G1 X1')
    expect(first).toBe(`N1 G28*${marlinChecksum('N1 G28')}\n`)
    expect(p.resend(1)).toEqual([first, second])
  })

  it('sends M112 at once, unnumbered; M108 and M410 (answered ok) and look-alikes wait their turn', () => {
    const p = new MarlinProtocol(resolveConfiguration({}, 'marlin'))
    for (const text of ['M112', ' m112 ', 'M112 ; stop']) {
      expect(p.realtime(text)).toEqual({ bytes: Buffer.from('M112\n', 'latin1'), awaitsReport: false })
    }
    for (const text of ['M108', 'M410', 'M1120', 'G1 X1 ; M112', 'M112.1'])
      expect(p.realtime(text)).toBeNull()
  })

  it('sends plain lines when lineNumbers is off', () => {
    const p = new MarlinProtocol(resolveConfiguration({ lineNumbers: false }, 'marlin'))
    expect(p.encode('G28')).toBe('G28\n')
  })

  it('swallows the ok that follows a Resend', () => {
    const p = new MarlinProtocol(resolveConfiguration({}, 'marlin'))
    expect(p.onLine('Resend: 3', 'G1 X1')).toEqual([{ kind: 'resend', lineNumber: 3 }])
    expect(p.onLine('ok', 'G1 X1')).toEqual([{ kind: 'consumed' }])
    expect(p.onLine('ok', 'G1 X1')).toEqual([{ kind: 'ok' }])
  })

  it('classifies busy, kill, start and firmware lines', () => {
    const p = new MarlinProtocol(resolveConfiguration({}, 'marlin'))
    expect(p.onLine('echo:busy: processing', 'G28')).toEqual([{ kind: 'busy' }])
    expect(p.onLine('Error:Printer halted. kill() called!', null)[0]?.kind).toBe('alarm')
    expect(p.onLine('Error:checksum mismatch, Last Line: 4', 'G1')).toEqual([])
    expect(p.onLine('start', null)[0]?.kind).toBe('reset')
    expect(
      p.onLine('FIRMWARE_NAME:Marlin 2.1.2 (Github) SOURCE_CODE_URL:x PROTOCOL_VERSION:1.0', 'M115')[0],
    ).toEqual({
      kind: 'firmware',
      version: 'Marlin 2.1.2 (Github)',
    })
  })
})

describe('resync probes', () => {
  it('marlin: a fresh M118 token per probe whose marker does not match a longer count', () => {
    const marlin = protocol('marlin')(resolveConfiguration({}, 'marlin'))
    const probes = Array.from({ length: 10 }, () => marlin.syncProbe!('G1 X1'))
    const [first] = probes
    expect(first?.command).toBe('M118 E1 myntrix-sync-1')
    expect(first?.isMarker('echo:myntrix-sync-1')).toBe(true)
    expect(first?.isMarker('echo:Unknown command: "M118 E1 myntrix-sync-1"')).toBe(true)
    expect(first?.isMarker('echo:myntrix-sync-10')).toBe(false)
    expect(first?.isMarker('ok')).toBe(false)
    expect(probes[9]?.isMarker('echo:myntrix-sync-10')).toBe(true)
  })

  it('grbl: $G, or $I when $G was the command that timed out', () => {
    const grbl = protocol('grbl')(resolveConfiguration({}, 'grbl'))
    const probe = grbl.syncProbe!('G0 X1')
    expect(probe.command).toBe('$G')
    expect(probe.isMarker('[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]')).toBe(true)
    expect(probe.isMarker('ok')).toBe(false)
    const other = grbl.syncProbe!(' $g ')
    expect(other.command).toBe('$I')
    expect(other.isMarker('[VER:1.1h.20190830:]')).toBe(true)
    expect(other.isMarker('[GC:G0 G54]')).toBe(false)
  })

  it('marlin falls back to M110 N0 when its probe cannot confirm; grbl has no fallback command', () => {
    expect(protocol('marlin')(resolveConfiguration({}, 'marlin')).syncProbe!('G1 X1').fallback).toEqual([
      'M110 N0',
    ])
    expect(protocol('grbl')(resolveConfiguration({}, 'grbl')).syncProbe!('G1 X1').fallback).toBeUndefined()
  })

  it('line and jsonl have none: their late replies cannot be told apart', () => {
    expect(protocol('line')(resolveConfiguration({}, 'line')).syncProbe).toBeUndefined()
    expect(protocol('jsonl')(resolveConfiguration({}, 'jsonl')).syncProbe).toBeUndefined()
  })
})

describe('grbl', () => {
  it('derives work position from MPos and the last WCO, keeps overrides', () => {
    const p = new GrblProtocol()
    const first = p.onLine('<Idle|MPos:10.000,5.000,-1.000|FS:0,0|WCO:2.000,1.000,-1.000>', null)
    expect(first[0]).toMatchObject({
      kind: 'telemetry',
      readings: { state: 'Idle', positionX: 8, positionY: 4, positionZ: 0, machineX: 10 },
    })
    // No WCO in this report: the last one still applies.
    const second = p.onLine('<Run|MPos:12.000,5.000,-1.000|FS:500,1000|Ov:100,50,120>', 'G1 X10')
    expect(second[0]).toMatchObject({
      readings: { state: 'Run', positionX: 10, feed: 500, spindle: 1000, rapidOverride: 50 },
    })
  })

  it('reads the state with its substate and WPos reports', () => {
    const p = new GrblProtocol()
    expect(p.onLine('<Hold:0|WPos:1.000,2.000,3.000|F:100>', null)[0]).toMatchObject({
      readings: { state: 'Hold', subState: 0, positionX: 1, feed: 100 },
    })
  })

  it('takes the rx buffer size from the last OPT field', () => {
    const p = new GrblProtocol()
    p.onLine('[OPT:VL,15,255]', '$I')
    expect(p.rxBufferSize).toBe(255)
  })

  it('maps error and alarm codes to readable messages', () => {
    const p = new GrblProtocol()
    expect(p.onLine('error:22', 'G1 X1')).toEqual([
      { kind: 'fail', message: 'error:22 Feed rate has not yet been set or is undefined.' },
    ])
    expect(p.onLine('ALARM:9', 'G1 X1')[1]).toEqual({
      kind: 'alarm',
      message: 'ALARM:9 Homing fail. Could not find limit switch within search distance.',
    })
    expect(p.onLine('error:99', 'G1')).toEqual([{ kind: 'fail', message: 'error:99 unknown error' }])
  })

  it('treats a banner as a reset and names the firmware; the blank line before it is nothing', () => {
    const p = new GrblProtocol()
    expect(p.onLine('', 'G0 X1')).toEqual([])
    expect(p.onLine("Grbl 1.1h ['$' for help]", 'G0 X1')).toEqual([
      { kind: 'firmware', version: 'Grbl 1.1h' },
      { kind: 'reset', message: "the controller reset (Grbl 1.1h ['$' for help])" },
    ])
  })

  it('knows the real-time commands', () => {
    const p = new GrblProtocol()
    expect(p.realtime('?')?.bytes).toEqual(Buffer.from('?'))
    expect(p.realtime('!')?.awaitsReport).toBe(false)
    expect(p.realtime('\x18')?.bytes).toEqual(Buffer.from([0x18]))
    expect(p.realtime('G0 X1')).toBeNull()
  })
})

describe('jsonl', () => {
  const jsonl = (configuration: Record<string, unknown> = {}) =>
    protocol('jsonl')(resolveConfiguration(configuration, 'jsonl'))

  it('completes on the first line that is not a telemetry sample', () => {
    const p = jsonl()
    expect(p.onLine('{"temperature":20.5}', 'PING')).toEqual([
      { kind: 'telemetry', readings: { temperature: 20.5 }, report: true },
    ])
    expect(p.onLine('PONG', 'PING')).toEqual([{ kind: 'ok' }])
    expect(p.onLine('{"ok":false,"error":"busy"}', 'PING')).toEqual([{ kind: 'fail', message: 'busy' }])
    expect(p.onLine('', 'PING')).toEqual([])
    expect(p.onLine('PONG', null)).toEqual([])
  })

  it('with jsonAnswersOnly, a text line joins the response and completes nothing', () => {
    const p = jsonl({ jsonAnswersOnly: true })
    expect(p.onLine('booting...', 'PING')).toEqual([{ kind: 'response' }])
    expect(p.onLine('{"result":"pong"}', 'PING')).toEqual([{ kind: 'ok' }])
  })
})
