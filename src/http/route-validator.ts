// The validator of every route's schema (Fastify's setValidatorCompiler): the
// checks of src/validation.ts, so a route refuses a request with the same Ajv
// options, the same schema-own messages and the same `errors: [{path,
// message}]` as a service checking the same schema. A body is checked as sent
// (JSON has types: "57600" is not a number); query strings and path parameters
// are text on the wire and are coerced to the schema's types.

import type { TSchema } from '@sinclair/typebox'
import type { FastifySchemaCompiler } from 'fastify'
import { checkerOf, invalid } from '../validation.js'

/** Where a part's values sit, as the first segment of an error's path (a body's fields have none). */
function prefixOf(httpPart: string | undefined): string {
  if (httpPart === undefined || httpPart === 'body') return ''
  return httpPart === 'querystring' ? 'query' : httpPart
}

// The schema is a route's TypeBox schema (the app's type provider), typed loosely here as Fastify types it.
export const routeValidator: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const check = checkerOf(schema as TSchema, { coerce: httpPart !== 'body' })
  const prefix = prefixOf(httpPart)
  return (data: unknown) => {
    const errors = check(data, prefix)
    return errors.length === 0 ? true : { error: invalid(errors) }
  }
}
