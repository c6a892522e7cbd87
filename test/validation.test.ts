// The shared schema check: the same shape of errors as a route's 400.
import { Type } from '@sinclair/typebox'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../src/errors.js'
import { assertSchema, schemaErrors } from '../src/validation.js'

const Body = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    mode: Type.Union([Type.Literal('a'), Type.Literal('b')]),
    limit: Type.Optional(Type.Integer({ minimum: 1 })),
    nested: Type.Optional(Type.Object({ port: Type.Integer() })),
  },
  { additionalProperties: false },
)

describe('schemaErrors', () => {
  it('is empty for a conforming value', () => {
    expect(schemaErrors(Body, { name: 'x', mode: 'a', nested: { port: 1 } })).toEqual([])
  })

  it('lists every problem with dotted paths under the prefix', () => {
    const errors = schemaErrors(Body, { mode: 'c', limit: 0, nested: { port: 'x' } }, 'configuration')
    const paths = errors.map((e) => e.path)
    expect(paths).toContain('configuration.name')
    expect(paths).toContain('configuration.limit')
    expect(paths).toContain('configuration.nested.port')
    expect(paths).toContain('configuration.mode')
    expect(errors.find((e) => e.path === 'configuration.name')?.message).toMatch(/required/)
  })

  it('refuses NaN and Infinity as numbers and does not coerce strings', () => {
    expect(schemaErrors(Body, { name: 'x', mode: 'a', limit: Number.NaN })).not.toEqual([])
    expect(schemaErrors(Body, { name: 'x', mode: 'a', limit: '5' })).not.toEqual([])
  })

  it('assertSchema throws one ValidationError carrying the field errors', () => {
    try {
      assertSchema(Body, { name: '' })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).errors?.map((e) => e.path)).toEqual(
        expect.arrayContaining(['name', 'mode']),
      )
    }
  })
})

describe("a schema's own words (x-message, x-required-message)", () => {
  const Own = Type.Object({
    retries: Type.Integer({
      minimum: 0,
      maximum: 9,
      'x-message': 'must be a whole number from 0 to 9, got {got}',
    }),
    code: Type.Optional(
      Type.Union([Type.Integer({ minimum: 100 }), Type.Array(Type.Integer({ minimum: 100 }))], {
        'x-message': 'must be a status or a list of them, got {got}',
      }),
    ),
    name: Type.String({ 'x-required-message': 'is required: a name' }),
    codes: Type.Optional(
      Type.Array(Type.Integer({ maximum: 5, 'x-message': 'must be at most 5, got {got}' })),
    ),
  })

  it('replaces the message of every failing keyword of that schema, saying it once', () => {
    expect(schemaErrors(Own, { retries: 10, name: 'x' })).toEqual([
      { path: 'retries', message: 'must be a whole number from 0 to 9, got 10' },
    ])
    expect(schemaErrors(Own, { retries: 'many', name: 'x' })).toEqual([
      { path: 'retries', message: 'must be a whole number from 0 to 9, got "many"' },
    ])
  })

  it("answers for a union's branches about the same value, not for deeper values with their own words", () => {
    expect(schemaErrors(Own, { retries: 1, name: 'x', code: 99 })).toEqual([
      { path: 'code', message: 'must be a status or a list of them, got 99' },
    ])
    expect(schemaErrors(Own, { retries: 1, name: 'x', codes: [1, 7] })).toEqual([
      { path: 'codes.1', message: 'must be at most 5, got 7' },
    ])
  })

  it('says x-required-message for a missing property, and Ajv keeps its words elsewhere', () => {
    expect(schemaErrors(Own, { retries: 1 })).toEqual([{ path: 'name', message: 'is required: a name' }])
    expect(schemaErrors(Body, { mode: 'a' })).toEqual([
      { path: 'name', message: "must have required property 'name'" },
    ])
  })
})

describe('messages by keyword and the union branch a value meant', () => {
  const Config = Type.Object({
    count: Type.Optional(
      Type.Integer({
        minimum: 0,
        'x-message': {
          type: 'count must be an integer, got {got}',
          minimum: 'count must be >= 0, got {got}',
        },
      }),
    ),
    size: Type.Optional(Type.Integer({ maximum: 3, 'x-message': { type: 'size must be an integer' } })),
    command: Type.Optional(
      Type.Union(
        [
          Type.String({ minLength: 1 }),
          Type.Array(Type.String(), { minItems: 1, 'x-message': { minItems: 'command must not be empty' } }),
        ],
        { 'x-message': { anyOf: 'command must be a string or a list, got {got}' } },
      ),
    ),
    check: Type.Optional(
      Type.Union([
        Type.Object(
          { type: Type.Literal('http'), url: Type.String() },
          { additionalProperties: Type.Never({ 'x-message': 'unknown field {field}' }) },
        ),
        Type.Object({ type: Type.Literal('beat'), timeoutMs: Type.Integer() }),
      ]),
    ),
  })

  it('says the message of the failing keyword, and Ajv words for keywords it does not name', () => {
    expect(schemaErrors(Config, { count: 'x' })).toEqual([
      { path: 'count', message: 'count must be an integer, got "x"' },
    ])
    expect(schemaErrors(Config, { count: -1 })).toEqual([
      { path: 'count', message: 'count must be >= 0, got -1' },
    ])
    expect(schemaErrors(Config, { size: 4 })).toEqual([{ path: 'size', message: 'must be <= 3' }])
  })

  it('reports only the branch whose type the value has', () => {
    expect(schemaErrors(Config, { command: [] })).toEqual([
      { path: 'command', message: 'command must not be empty' },
    ])
    expect(schemaErrors(Config, { command: 42 })).toEqual([
      { path: 'command', message: 'command must be a string or a list, got 42' },
    ])
  })

  it('tells object branches apart by their tag, and names an unknown field of a closed object', () => {
    expect(schemaErrors(Config, { check: { type: 'beat' } })).toEqual([
      { path: 'check.timeoutMs', message: "must have required property 'timeoutMs'" },
    ])
    expect(schemaErrors(Config, { check: { type: 'http', url: 'u', every: 5 } })).toEqual([
      { path: 'check.every', message: 'unknown field "every"' },
    ])
    // No branch has this tag: the tag is what is wrong (said once), not each branch's missing fields.
    expect(schemaErrors(Config, { check: { type: 'tcp' } })).toEqual([
      { path: 'check.type', message: 'must be equal to constant' },
    ])
  })
})
