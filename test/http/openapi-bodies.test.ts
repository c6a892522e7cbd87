// The OpenAPI document describes every request body field of tasks (each
// action's payload included), agents and devices: no field is `{}` or an open
// object where the server knows the shape, and the fields a client needs most
// are there with their types.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiPayloadSchema } from '../../src/modules/scheduler/actions/api.js'
import { createActionRegistry, payloadSchemas } from '../../src/modules/scheduler/actions/index.js'
import { ACTION_TYPES } from '../../src/modules/scheduler/actions/types.js'
import { createTestApp, type TestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

type Json = Record<string, any>

/** Keys that describe a schema without saying anything of its shape. */
const ABOUT = new Set([
  'description',
  'title',
  'examples',
  'example',
  'default',
  'x-message',
  'x-required-message',
])

/** An open object (any keys, none named) and a schema with nothing but words both say nothing of the shape. */
function shapeless(schema: Json): boolean {
  if (Object.keys(schema).every((k) => ABOUT.has(k))) return true
  return (
    schema.type === 'object' &&
    !schema.enum &&
    Object.keys(schema.properties ?? {}).length === 0 &&
    !schema.patternProperties &&
    (schema.additionalProperties === undefined || schema.additionalProperties === true)
  )
}

/** Every shapeless schema below `schema`, with its path (`.field`, `[]` for items, `|n` for a union's branch). */
function shapelessBelow(schema: Json, path = ''): Array<{ path: string; schema: Json }> {
  if (shapeless(schema)) return [{ path, schema }]
  const found: Array<{ path: string; schema: Json }> = []
  for (const [key, value] of Object.entries(schema.properties ?? {}))
    found.push(...shapelessBelow(value as Json, `${path}.${key}`))
  for (const keyword of ['anyOf', 'oneOf', 'allOf'])
    for (const [i, branch] of (schema[keyword] ?? []).entries())
      found.push(...shapelessBelow(branch, `${path}|${i}`))
  if (schema.items) found.push(...shapelessBelow(schema.items, `${path}[]`))
  if (typeof schema.additionalProperties === 'object')
    found.push(...shapelessBelow(schema.additionalProperties, `${path}.*`))
  for (const [key, value] of Object.entries(schema.patternProperties ?? {}))
    found.push(...shapelessBelow(value as Json, `${path}<${key}>`))
  return found
}

const branches = (schema: Json): Json[] => schema.anyOf ?? schema.oneOf ?? [schema]
const objectBranch = (schema: Json): Json => {
  const found = branches(schema).find((b) => b.properties)
  if (!found) throw new Error(`no object branch in ${JSON.stringify(schema).slice(0, 200)}`)
  return found
}

describe('the OpenAPI document of request bodies', () => {
  let t: TestApp
  let spec: Json
  const body = (path: string, method: string): Json =>
    spec.paths[path][method].requestBody.content['application/json'].schema

  beforeAll(async () => {
    t = await createTestApp(testEngines()[0]!)
    const res = await t.request('GET', '/docs/json')
    expect(res.status).toBe(200)
    spec = res.body
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('has no shapeless field in a task, agent or device body, the api action`s any-JSON body aside', () => {
    const anyJson = ApiPayloadSchema.properties.body.description
    let bodies = 0
    for (const [path, methods] of Object.entries(spec.paths as Record<string, Json>)) {
      if (!/^\/api\/myntrix\/(tasks|agents|devices)(\/|$)/.test(path)) continue
      for (const [method, operation] of Object.entries(methods)) {
        const schema = operation.requestBody?.content?.['application/json']?.schema
        if (!schema) continue
        bodies++
        const found = shapelessBelow(schema).filter(
          // The api action sends any JSON value (a string as is): no narrower shape exists.
          (f) => !(f.path.endsWith('.body') && f.schema.description === anyJson),
        )
        expect(found.map((f) => `${method} ${path} ${f.path}`)).toEqual([])
      }
    }
    // POST and PUT of each of the three, and a device command.
    expect(bodies).toBeGreaterThanOrEqual(7)
  })

  it("describes an agent's configuration, its runtime and health checks included", () => {
    for (const [path, method] of [
      ['/api/myntrix/agents', 'post'],
      ['/api/myntrix/agents/{id}', 'put'],
    ] as const) {
      const configuration = objectBranch(body(path, method).properties.configuration)
      const fields = configuration.properties
      expect(Object.keys(fields)).toEqual(
        expect.arrayContaining([
          'command',
          'cwd',
          'env',
          'restartPolicy',
          'maxRestarts',
          'healthCheck',
          'runtime',
        ]),
      )
      const docker = objectBranch(fields.runtime)
      expect(docker.properties.type.enum).toEqual(['docker'])
      expect(docker.properties.image.type).toBe('string')
      expect(docker.required).toContain('image')
      expect(Object.keys(docker.properties)).toEqual(
        expect.arrayContaining([
          'command',
          'env',
          'workingDir',
          'mounts',
          'network',
          'cpus',
          'memoryMb',
          'user',
        ]),
      )
      expect(Object.keys(docker.properties.mounts.items.properties)).toEqual(['source', 'target', 'readOnly'])
      const checks = branches(fields.healthCheck).map((b) => b.properties.type.enum[0])
      expect(checks).toEqual(['http', 'heartbeat'])
      // OpenAPI 3.0 has no patternProperties: a name's rule is the server's, the values are strings.
      expect(fields.env.additionalProperties.type).toBe('string')
      expect(fields.maxRestarts.type).toBe('integer')
    }
  })

  it("describes each action's payload, in the task body and as a workflow's step", () => {
    const registered = new Map(payloadSchemas(createActionRegistry()).map((a) => [a.type, a.schema]))
    const create = body('/api/myntrix/tasks', 'post')
    const variants = branches(create)
    expect(variants.map((v) => v.title)).toEqual(ACTION_TYPES.map((type) => `${type} task`))
    for (const [i, type] of ACTION_TYPES.entries()) {
      const variant = variants[i]!
      const payload = objectBranch(variant.properties.payload)
      expect(Object.keys(payload.properties), type).toEqual(Object.keys(registered.get(type)!.properties))
      // `action` is the type's name, or the type with the payload's fields inline.
      const action = branches(variant.properties.action)
      expect(action.some((a) => a.enum?.[0] === type)).toBe(true)
      expect(Object.keys(objectBranch(variant.properties.action).properties)).toEqual(
        expect.arrayContaining(['type', ...Object.keys(registered.get(type)!.properties)]),
      )
    }
    const api = objectBranch(variants[ACTION_TYPES.indexOf('api')]!.properties.payload)
    expect(api.properties.url.type).toBe('string')
    expect(api.required).toContain('url')
    const workflow = objectBranch(variants[ACTION_TYPES.indexOf('workflow')]!.properties.payload)
    const steps = branches(workflow.properties.steps.items)
    expect(steps.map((s) => s.properties.action.enum[0])).toEqual(
      ACTION_TYPES.filter((t) => t !== 'workflow'),
    )
    for (const step of steps)
      expect(Object.keys(objectBranch(step.properties.payload).properties).length).toBeGreaterThan(0)

    const update = body('/api/myntrix/tasks/{id}', 'put')
    expect(Object.keys(update.properties)).toEqual(
      expect.arrayContaining(['name', 'schedule', 'timezone', 'action', 'payload', 'enabled', 'maxRetries']),
    )
    expect(branches(update.properties.payload).filter((b) => b.properties)).toHaveLength(ACTION_TYPES.length)
  })

  it("describes a device's configuration keys", () => {
    const configuration = body('/api/myntrix/devices', 'post').properties.configuration
    expect(configuration.properties.baudRate.type).toBe('integer')
    expect(configuration.properties.protocol.enum).toEqual(['line', 'jsonl', 'marlin', 'grbl'])
    expect(body('/api/myntrix/devices/{id}', 'put').properties.configuration.properties.qos.enum).toEqual([
      0, 1, 2,
    ])
  })
})
