// One validation style for the whole server: a TypeBox schema is the single
// statement of a body's shape. Routes hand it to Fastify (which validates with
// Ajv and documents it in OpenAPI); services and drivers that receive values
// from elsewhere (a stored task, a scheduler action, a configuration read back)
// check the same schema here, with the same Ajv options, and both report
// failures in the one documented shape: `errors: [{path, message}]`.
// Nothing here knows about HTTP frameworks.

import type { TSchema } from '@sinclair/typebox'
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { type FieldError, ValidationError } from './errors.js'
import { NAME_PATTERN, NAME_RULE } from './names.js'

/**
 * The Ajv options of every check, routes included (src/app.ts passes them to
 * Fastify). allErrors: one 400 lists every problem. strictNumbers: NaN and
 * Infinity are not numbers. The routes add `coerceTypes: 'array'` (Fastify
 * applies it to query strings and bodies alike, which is why the task and
 * device routes leave their bodies to the services); the services, which
 * receive typed values, check without it.
 */
export const AJV_OPTIONS = {
  allErrors: true,
  removeAdditional: true,
  useDefaults: true,
  strictNumbers: true,
} as const satisfies Options

// verbose: errors keep the failing schema and value, for the schemas' own wording (MessageOptions).
const ajv = addFormats.default(new Ajv({ ...AJV_OPTIONS, coerceTypes: false, strict: false, verbose: true }))
const compiled = new WeakMap<TSchema, ValidateFunction>()

/** The error Ajv reports, as far as the mapping reads it (Fastify's validation errors have this shape too). */
export interface SchemaError {
  instancePath?: string
  message?: string
  keyword?: string
  params?: Record<string, unknown>
  schemaPath?: string
  /** The failing schema and value (the services' checks keep them; route checks do not). */
  parentSchema?: Record<string, unknown>
  data?: unknown
}

/**
 * Schema options that keep an area's own wording in the services' checks
 * (route checks report Ajv's words); named as OpenAPI extensions, so the
 * document stays valid. `x-message` answers for every failure of its schema
 * and of the schemas inside it about the same value (a union's branches),
 * `{got}` standing for a short description of the value;
 * `x-required-message`, on a property, is said when it is missing.
 */
export interface MessageOptions {
  'x-message'?: string
  'x-required-message'?: string
}

/** A value in a message: short, and never the whole of a long string. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (typeof value === 'object') return 'an object'
  return String(value)
}

/** The schema's own message for an error, if it has one. */
function ownMessage(v: SchemaError): string | undefined {
  if (v.keyword === 'required') {
    const missing = v.params?.missingProperty
    const message =
      typeof missing === 'string'
        ? (v.parentSchema?.properties as Record<string, MessageOptions> | undefined)?.[missing]?.[
            'x-required-message'
          ]
        : undefined
    return typeof message === 'string' ? message : undefined
  }
  const message = v.parentSchema?.['x-message']
  return typeof message === 'string' ? message.replace('{got}', describeValue(v.data)) : undefined
}

/** Drops the errors a schema with its own message answers for (those inside it, about the same value). */
function spokenFor(validation: readonly SchemaError[]): SchemaError[] {
  const speaks = (v: SchemaError) =>
    v.keyword !== 'required' && typeof v.parentSchema?.['x-message'] === 'string'
  const speakers = validation.filter(speaks).map((v) => ({
    at: v.instancePath ?? '',
    node: (v.schemaPath ?? '').slice(0, (v.schemaPath ?? '').lastIndexOf('/') + 1),
  }))
  if (speakers.length === 0) return [...validation]
  return validation.filter(
    (v) =>
      speaks(v) ||
      !speakers.some((s) => s.at === (v.instancePath ?? '') && (v.schemaPath ?? '').startsWith(s.node)),
  )
}

/**
 * Turns Ajv errors into `{path, message}` with dotted paths
 * (`configuration.command`, `query.limit`); `prefix` names where the value sits.
 */
export function fieldErrors(validation: readonly SchemaError[], prefix = ''): FieldError[] {
  const seen = new Set<string>()
  return spokenFor(validation).flatMap((v) => {
    const segments = (v.instancePath ?? '').split('/').filter(Boolean)
    if (v.keyword === 'required' && typeof v.params?.missingProperty === 'string') {
      segments.push(v.params.missingProperty)
    }
    if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
      segments.push(v.params.additionalProperty)
    }
    const path = [prefix, ...segments].filter(Boolean).join('.') || prefix || '(body)'
    let message = v.message ?? 'is invalid'
    if (v.keyword === 'enum' && Array.isArray(v.params?.allowedValues)) {
      message = `must be one of ${(v.params.allowedValues as unknown[]).join(', ')}`
    }
    // The pattern itself is unreadable; say the rule.
    if (v.keyword === 'pattern' && v.params?.pattern === NAME_PATTERN) message = NAME_RULE
    const own = ownMessage(v)
    if (own === undefined) return [{ path, message }]
    // A schema's own message may answer for several of its keywords at once: say it once.
    const key = `${path}\n${own}`
    if (seen.has(key)) return []
    seen.add(key)
    return [{ path, message: own }]
  })
}

/** The field errors of `value` against `schema` (empty when it conforms); `prefix` as in fieldErrors. */
export function schemaErrors(schema: TSchema, value: unknown, prefix = ''): FieldError[] {
  let validate = compiled.get(schema)
  if (!validate) {
    validate = ajv.compile(schema)
    compiled.set(schema, validate)
  }
  if (validate(value)) return []
  return fieldErrors((validate.errors ?? []) as ErrorObject[], prefix)
}

/** The one-line detail of a 400: every field error, `path message; ...`. */
export function errorsDetail(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path} ${e.message}`).join('; ')
}

/** A ValidationError (400) listing every field error. */
export function invalid(errors: FieldError[]): ValidationError {
  return new ValidationError(errorsDetail(errors), errors)
}

/** Throws one ValidationError listing every field error, if there are any. */
export function refuseErrors(errors: FieldError[]): void {
  if (errors.length > 0) throw invalid(errors)
}

/** Checks `value` against `schema` and throws a ValidationError (400) listing every problem. */
export function assertSchema(schema: TSchema, value: unknown, prefix = ''): void {
  refuseErrors(schemaErrors(schema, value, prefix))
}
