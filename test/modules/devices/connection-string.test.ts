import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../../src/errors.js'
import { resolveConfiguration, validateConfiguration } from '../../../src/modules/devices/configuration.js'
import { parseConnectionString } from '../../../src/modules/devices/connection-string.js'

describe('parseConnectionString', () => {
  it.each([
    ['serial:///dev/ttyUSB0?baudRate=250000', { scheme: 'serial', path: '/dev/ttyUSB0', baudRate: 250000 }],
    ['serial:///dev/ttyACM1', { scheme: 'serial', path: '/dev/ttyACM1', baudRate: 115200 }],
    ['/dev/ttyUSB0', { scheme: 'serial', path: '/dev/ttyUSB0', baudRate: 115200 }],
    ['tcp://192.168.1.20:23', { scheme: 'tcp', host: '192.168.1.20', port: 23 }],
    ['tcp://printer.local:8080', { scheme: 'tcp', host: 'printer.local', port: 8080 }],
    [
      'mqtt://127.0.0.1:1883/lab/printer-1',
      { scheme: 'mqtt', host: '127.0.0.1', port: 1883, topicPrefix: 'lab/printer-1' },
    ],
    ['mqtt://broker/plant', { scheme: 'mqtt', host: 'broker', port: 1883, topicPrefix: 'plant' }],
    ['sim://marlin', { scheme: 'sim', firmware: 'marlin' }],
    ['sim://grbl', { scheme: 'sim', firmware: 'grbl' }],
  ])('accepts %s', (text, expected) => {
    expect(parseConnectionString(text)).toEqual(expected)
  })

  it('takes a bare path baud rate from configuration.baudRate', () => {
    expect(parseConnectionString('/dev/ttyUSB0', { baudRate: 57600 })).toMatchObject({ baudRate: 57600 })
  })

  it('lets the baudRate parameter win over configuration', () => {
    expect(parseConnectionString('serial:///dev/ttyS0?baudRate=9600', { baudRate: 57600 })).toMatchObject({
      baudRate: 9600,
    })
  })

  it.each([
    [''],
    ['COM3'],
    ['ttyUSB0'],
    ['http://example.com'],
    ['serial://dev/ttyUSB0'],
    ['serial:///dev/ttyUSB0?baudRate=fast'],
    ['serial:///dev/ttyUSB0?baudRate=-1'],
    ['serial:///dev/ttyUSB0?parity=none'],
    ['tcp://host'],
    ['tcp://host:0'],
    ['tcp://host:70000'],
    ['tcp://host:23/path'],
    ['mqtt://broker:1883'],
    ['mqtt://broker:1883/lab/#'],
    ['mqtt://user:pw@broker/lab'],
    ['sim://prusa'],
  ])('rejects %j with the accepted forms in the detail', (text) => {
    let error: unknown
    try {
      parseConnectionString(text)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ValidationError)
    const e = error as ValidationError
    expect(e.status).toBe(400)
    expect(e.message).toContain('accepted forms: serial:///dev/ttyUSB0?baudRate=115200')
    expect(e.errors?.[0]?.path).toBe('connectionString')
  })

  it('rejects a value that is not a string', () => {
    expect(() => parseConnectionString(42)).toThrow(ValidationError)
  })
})

describe('validateConfiguration', () => {
  it('accepts known keys and keeps unknown ones', () => {
    const config = { protocol: 'grbl', statusPollMs: 200, custom: { anything: true } }
    expect(validateConfiguration(config)).toEqual(config)
  })

  it('fills defaults when resolving', () => {
    expect(resolveConfiguration({})).toMatchObject({
      protocol: 'line',
      baudRate: 115200,
      autoReconnect: true,
      commandTimeoutMs: 10_000,
      statusPollMs: 250,
    })
    expect(resolveConfiguration({}, 'marlin').protocol).toBe('marlin')
  })

  it.each([
    [{ protocol: 'gcode' }, 'configuration.protocol'],
    [{ baudRate: 12.5 }, 'configuration.baudRate'],
    [{ baudRate: '115200' }, 'configuration.baudRate'],
    [{ autoReconnect: 'yes' }, 'configuration.autoReconnect'],
    [{ commandTimeoutMs: 0 }, 'configuration.commandTimeoutMs'],
    [{ statusPollMs: 5 }, 'configuration.statusPollMs'],
    [{ temperatureReport: 'sometimes' }, 'configuration.temperatureReport'],
    [{ temperatureIntervalMs: 10 }, 'configuration.temperatureIntervalMs'],
    [{ username: 7 }, 'configuration.username'],
    [{ qos: 3 }, 'configuration.qos'],
    [{ jsonAnswersOnly: 'yes' }, 'configuration.jsonAnswersOnly'],
    [{ resyncQuietMs: 5 }, 'configuration.resyncQuietMs'],
    [{ reconnectDelayMs: 500, reconnectMaxDelayMs: 100 }, 'configuration.reconnectMaxDelayMs'],
  ])('rejects %j at %s', (config, path) => {
    try {
      validateConfiguration(config)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).errors?.map((e) => e.path)).toEqual([path])
    }
  })

  it('reports every bad field at once', () => {
    try {
      validateConfiguration({ protocol: 'x', baudRate: -1 })
      expect.unreachable()
    } catch (err) {
      expect((err as ValidationError).errors?.map((e) => e.path).sort()).toEqual([
        'configuration.baudRate',
        'configuration.protocol',
      ])
    }
  })

  it('rejects a configuration that is not an object', () => {
    expect(() => validateConfiguration([1])).toThrow(ValidationError)
    expect(() => validateConfiguration('marlin')).toThrow(ValidationError)
  })

  it('allows statusPollMs 0 (polling off)', () => {
    expect(validateConfiguration({ statusPollMs: 0 })).toEqual({ statusPollMs: 0 })
  })
})
