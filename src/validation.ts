// One validation style for the whole server: a TypeBox schema is the single
// statement of a body's shape. Routes hand it to Fastify, which documents it in
// OpenAPI and checks requests with the checks below (src/http/route-validator.ts);
// services and drivers that receive values from elsewhere (a stored task, a
// scheduler action, a configuration read back) check the same schema here, with
// the same Ajv options, and both report failures in the one documented shape:
// `errors: [{path, message}]`.
// Nothing here knows about HTTP frameworks.

import type { TSchema } from '@sinclair/typebox'
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { type FieldError, ValidationError } from './errors.js'
import { NAME_PATTERN, NAME_RULE } from './names.js'

/**
 * The Ajv options of every check, routes included (src/http/route-validator.ts).
 * allErrors: one 400 lists every problem. strictNumbers: NaN and Infinity are
 * not numbers. removeAdditional drops a field that an object schema closes with
 * `additionalProperties: false` (a route's unknown top-level field is ignored,
 * not refused); useDefaults fills a schema's `default`. Bodies are checked as
 * sent, never coerced: a baud rate "57600" is a 400, not 57600. Query strings
 * and path parameters are text on the wire, so their check coerces
 * (`coerceTypes: 'array'`: "5" is 5, one `status=x` is `["x"]`).
 */
export const AJV_OPTIONS = {
  allErrors: true,
  removeAdditional: true,
  useDefaults: true,
  strictNumbers: true,
} as const satisfies Options

// verbose: errors keep the failing schema and value, for the schemas' own wording (MessageOptions).
const strictAjv = addFormats.default(
  new Ajv({ ...AJV_OPTIONS, coerceTypes: false, strict: false, verbose: true }),
)
const coercingAjv = addFormats.default(
  new Ajv({ ...AJV_OPTIONS, coerceTypes: 'array', strict: false, verbose: true }),
)
const compiled = {
  strict: new WeakMap<TSchema, ValidateFunction>(),
  coercing: new WeakMap<TSchema, ValidateFunction>(),
}

/** How a value is checked: as it is (bodies, stored values), or coerced from text (query, params). */
export interface CheckOptions {
  coerce?: boolean
}

/** The compiled check of `schema` (compiled once per schema and option, then reused). */
function validatorOf(schema: TSchema, options: CheckOptions = {}): ValidateFunction {
  const cache = options.coerce ? compiled.coercing : compiled.strict
  let validate = cache.get(schema)
  if (!validate) {
    validate = (options.coerce ? coercingAjv : strictAjv).compile(schema)
    cache.set(schema, validate)
  }
  return validate
}

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
 * Schema options that keep an area's own wording; named as OpenAPI extensions,
 * so the document stays valid. `x-message` answers for every failure of its
 * schema and of the schemas inside it about the same value (a union's
 * branches); given as an object, it answers only for the Ajv keywords it
 * names (`{type: ..., minimum: ...}`) and lets Ajv's words stand for the
 * others. In a message `{got}` stands for a short description of the value
 * and `{field}` for the name of the field it sits in (for a closed object's
 * unknown key). `x-required-message`, on a property, is said when it is missing.
 */
export interface MessageOptions {
  'x-message'?: string | Partial<Record<string, string>>
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

/** The message the failing schema states for this error's keyword, unfilled. */
function template(v: SchemaError): string | undefined {
  const own = v.parentSchema?.['x-message']
  if (typeof own === 'string') return own
  const byKeyword = typeof own === 'object' && own !== null ? (own as Record<string, unknown>) : undefined
  const message = v.keyword === undefined ? undefined : byKeyword?.[v.keyword]
  return typeof message === 'string' ? message : undefined
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
  const field = (v.instancePath ?? '').split('/').pop() ?? ''
  return template(v)
    ?.replace('{got}', describeValue(v.data))
    .replace('{field}', describeValue(field.replaceAll('~1', '/').replaceAll('~0', '~')))
}

/** Drops the errors a schema with its own message answers for (those inside it, about the same value). */
function spokenFor(validation: readonly SchemaError[]): SchemaError[] {
  const speaks = (v: SchemaError) => v.keyword !== 'required' && template(v) !== undefined
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
 * A union (anyOf) that failed reports every branch's errors. Ajv tries each
 * branch, so a command `[]` would be told it must be a string as well as that
 * the array is empty. A branch is ruled out by the value's type (a type error
 * at the union's value) or by a tag (a const/enum error at the value or one of
 * its fields, as `type` tells a health check's kinds apart); the branches left
 * are what the value meant, and only their errors are kept. When every branch
 * is ruled out, a wrong tag is the answer; without one, the union's own error
 * and what ruled each branch out. A union with one message for all of it
 * (`x-message` as a string) speaks for itself and is left as it is.
 */
function fittingBranches(validation: readonly SchemaError[]): SchemaError[] {
  let errors = [...validation]
  const unions = validation.filter(
    (v) => v.keyword === 'anyOf' && typeof v.parentSchema?.['x-message'] !== 'string',
  )
  for (const union of unions) {
    const at = union.instancePath ?? ''
    const node = `${union.schemaPath ?? ''}/`
    const inside = errors.filter((e) => e !== union && (e.schemaPath ?? '').startsWith(node))
    const branchOf = (e: SchemaError) => (e.schemaPath ?? '').slice(node.length).split('/')[0]
    // The branch's own type or const, or the const/enum of one of its direct properties (its tag).
    const rulesOut = (e: SchemaError) =>
      /^\d+\/(type|const|enum)$|^\d+\/properties\/[^/]+\/(const|enum)$/.test(
        (e.schemaPath ?? '').slice(node.length),
      )
    const ruledOut = new Set(inside.filter(rulesOut).map(branchOf))
    const branches = (union.parentSchema?.anyOf as unknown[] | undefined)?.length ?? 0
    const fitting = Array.from({ length: branches }, (_, i) => String(i)).filter((b) => !ruledOut.has(b))
    if (fitting.length > 0) {
      errors = errors.filter((e) => e !== union && (!inside.includes(e) || fitting.includes(branchOf(e))))
    } else {
      // A wrong tag on an object of the union's kind is the answer; else the value fits no kind at all.
      const tags = inside.filter((e) => rulesOut(e) && (e.instancePath ?? '') !== at)
      const kept = tags.length > 0 ? tags : [union, ...inside.filter(rulesOut)]
      errors = errors.filter((e) => !(e === union || inside.includes(e)) || kept.includes(e))
    }
  }
  return errors
}

/**
 * Turns Ajv errors into `{path, message}` with dotted paths
 * (`configuration.command`, `query.limit`); `prefix` names where the value sits.
 */
export function fieldErrors(validation: readonly SchemaError[], prefix = ''): FieldError[] {
  const seen = new Set<string>()
  return spokenFor(fittingBranches(validation)).flatMap((v) => {
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
    const said = ownMessage(v) ?? message
    // One message may answer for several keywords (a schema's own), or for several branches: say it once.
    const key = `${path}\n${said}`
    if (seen.has(key)) return []
    seen.add(key)
    return [{ path, message: said }]
  })
}

/** The field errors of `value` against `schema` (empty when it conforms); `prefix` as in fieldErrors. */
export function schemaErrors(
  schema: TSchema,
  value: unknown,
  prefix = '',
  options: CheckOptions = {},
): FieldError[] {
  return checkerOf(schema, options)(value, prefix)
}

/**
 * The check of `schema` as a function, compiled now: what a route's validator
 * keeps, so a schema Ajv cannot compile stops start-up, not a request.
 */
export function checkerOf(
  schema: TSchema,
  options: CheckOptions = {},
): (value: unknown, prefix?: string) => FieldError[] {
  const validate = validatorOf(schema, options)
  return (value, prefix = '') =>
    validate(value) ? [] : fieldErrors((validate.errors ?? []) as ErrorObject[], prefix)
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
