// Every validator reports every error, and nothing is stored after any error.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collectErrors, type FieldError, ValidationError } from '../../src/errors.js'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)
const paths = (body: { errors?: FieldError[] }) => (body.errors ?? []).map((e) => e.path).sort()

describe('collectErrors', () => {
  it('keeps a ValidationError that names no field as an error at the path', () => {
    const errors: FieldError[] = []
    expect(
      collectErrors(errors, 'schedule', () => {
        throw new ValidationError('bad schedule')
      }),
    ).toBeUndefined()
    expect(errors).toEqual([{ path: 'schedule', message: 'bad schedule' }])
  })

  it('re-throws what is not a validation error rather than treating it as valid', () => {
    expect(() =>
      collectErrors([], 'schedule', () => {
        throw new RangeError('Maximum call stack size exceeded')
      }),
    ).toThrow(RangeError)
  })
})

describe.each(testEngines())('validators on $name', (engine) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp(engine)
  })
  afterAll(async () => {
    await t.dispose()
  })

  const taskCount = async () =>
    Number((await t.request('GET', '/api/myntrix/tasks', { as: t.admin })).headers['x-total-count'])

  it('refuses a deeply nested schedule of a disabled task and stores nothing', async () => {
    const before = await taskCount()
    for (const depth of [5000, 20]) {
      const res = await t.request('POST', '/api/myntrix/tasks', {
        as: t.operator,
        headers: { 'content-type': 'application/json' },
        body: `{"name":"n","action":"agent","payload":{"agentId":"x","operation":"stop"},"enabled":false,"schedule":${deep(depth)}}`,
      })
      expect(res.status, res.text).toBe(400)
      expect(paths(res.body)[0]).toMatch(/^schedule/)
    }
    expect(await taskCount()).toBe(before)
  })

  it('lists every problem of a task at once', async () => {
    const res = await t.request('POST', '/api/myntrix/tasks', {
      as: t.operator,
      body: {
        name: '',
        schedule: 'nope',
        timezone: 'Mars/Olympus',
        action: 'agent',
        payload: {},
        maxRetries: -1,
      },
    })
    expect(res.status).toBe(400)
    expect(paths(res.body)).toEqual([
      'maxRetries',
      'name',
      'payload.agentId',
      'payload.operation',
      'schedule',
      'timezone',
    ])
  })

  it('lists schema and configuration problems of an agent together', async () => {
    for (const [method, url] of [
      ['POST', '/api/myntrix/agents'],
      [
        'PUT',
        `/api/myntrix/agents/${(await t.request('POST', '/api/myntrix/agents', { as: t.operator, body: { name: 'a' } })).body.id}`,
      ],
    ] as const) {
      const res = await t.request(method, url, {
        as: t.operator,
        body: { name: '', configuration: { maxRestarts: -1, restartPolicy: 'sometimes' } },
      })
      expect(res.status, res.text).toBe(400)
      expect(paths(res.body)).toEqual(['configuration.maxRestarts', 'configuration.restartPolicy', 'name'])
    }
  })

  it('lists schema, connection string and configuration problems of a device together', async () => {
    const before = (await t.request('GET', '/api/myntrix/devices', { as: t.admin })).headers['x-total-count']
    const res = await t.request('POST', '/api/myntrix/devices', {
      as: t.operator,
      body: { name: '', connectionString: 'bogus', configuration: { baudRate: 'fast' } },
    })
    expect(res.status, res.text).toBe(400)
    expect(paths(res.body)).toEqual(['configuration.baudRate', 'connectionString', 'name'])
    expect((await t.request('GET', '/api/myntrix/devices', { as: t.admin })).headers['x-total-count']).toBe(
      before,
    )
  })
})
