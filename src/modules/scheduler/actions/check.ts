// A payload's check: its TypeBox schema (the one the OpenAPI document shows),
// through src/validation.ts, then the action's own rules for what a schema
// cannot say (a URL's scheme, a command that is one line). Paths are relative
// to the payload (`url`, `command[0]`, `headers.Accept`); messages name what
// is expected and what was given (the schemas carry them, see MessageOptions).

import type { TObject } from '@sinclair/typebox'
import type { FieldError } from '../../../errors.js'
import { describeValue, schemaErrors } from '../../../validation.js'
import type { Validation } from './types.js'

export type Obj = Record<string, unknown>

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `base.key`, or `base[i]` for an index. */
export function join(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`
  return base === '' ? key : `${base}.${key}`
}

/** Array indices as the scheduler writes them: `command[1]`, not `command.1`. */
function indexed(path: string): string {
  return path.replace(/\.(\d+)(?=\.|$)/g, '[$1]')
}

/**
 * The payload's field errors against `schema`. Unknown fields are named here:
 * the shared check would drop them silently (Ajv's removeAdditional), and a
 * misspelt option must not be ignored.
 */
export function payloadErrors(schema: TObject, value: unknown, base = ''): FieldError[] {
  if (!isObject(value))
    return [{ path: base || 'payload', message: `must be an object, got ${describeValue(value)}` }]
  const unknown = unknownFields(schema, value, base)
  // A copy: the shared check strips what it does not know from the value it is given.
  const found = schemaErrors(schema, { ...value }, base).map((e) => ({ ...e, path: indexed(e.path) }))
  return [...unknown, ...found]
}

/** The fields of `value` that `schema` does not know. */
export function unknownFields(schema: TObject, value: Obj, base = ''): FieldError[] {
  const known = Object.keys(schema.properties)
  return Object.keys(value)
    .filter((key) => !known.includes(key))
    .map((key) => ({ path: join(base, key), message: `unknown field; expected one of ${known.join(', ')}` }))
}

/** The outcome of a check: the payload itself when nothing is wrong. */
export function checked<P>(errors: FieldError[], payload: unknown): Validation<P> {
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: payload as P }
}

/** A whole number in a range, in the scheduler's words. */
export function wholeNumber(min: number, max: number, description?: string) {
  return {
    minimum: min,
    maximum: max,
    'x-message': `must be a whole number from ${min} to ${max}, got {got}`,
    ...(description ? { description } : {}),
  }
}

/** A non-empty string (not only blanks) of at most `maxLength` characters. */
export function nonEmpty(maxLength: number, description?: string) {
  return {
    minLength: 1,
    maxLength,
    pattern: '\\S',
    'x-message': `must be a non-empty string of at most ${maxLength} characters, got {got}`,
    ...(description ? { description } : {}),
  }
}
