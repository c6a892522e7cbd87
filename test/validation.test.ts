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
