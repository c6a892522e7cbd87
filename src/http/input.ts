// Input rules that hold for every route, checked once at the edge before any
// schema or service sees the request. Each closes a way a client could make the
// server fail with a 500 or store something it cannot give back:
// - a number outside the double range (`1e309`, `-1e309`) parses to ±Infinity,
//   which JSON cannot represent again and the databases refuse;
// - NUL and lone UTF-16 surrogates (`"\ud800"`) are valid JSON escapes, but
//   PostgreSQL refuses both in text and JSONB, and SQLite would hand them back
//   changed;
// - objects nested thousands deep overflow the stack of any recursive code
//   (validators, serialisers, JSON columns);
// - a multipart body without a boundary cannot be parsed at all.

import type { FastifyInstance, FastifyRequest } from 'fastify'
import { type FieldError, ValidationError } from '../errors.js'

/** Deeper than any configuration a person writes; far below what overflows a recursive walk. */
export const MAX_NESTING_DEPTH = 32

// Lone surrogates: a high one not followed by a low one, or a low one not after a high one.
const BAD_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function textProblem(s: string): string | undefined {
  const m = BAD_TEXT.exec(s)
  if (!m) return undefined
  return m[0] === '\u0000'
    ? 'must not contain NUL (U+0000)'
    : `must be valid Unicode text: a lone surrogate U+${m[0].charCodeAt(0).toString(16).toUpperCase()} at character ${m.index}`
}

function join(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`
  return base === '' ? key : `${base}.${key}`
}

/**
 * Every problem of the three kinds above in a parsed value, with dotted paths
 * under `base` (`configuration.x`, `query.limit`). Iterative, so that depth
 * itself cannot overflow the stack; stops at the first too-deep branch of each
 * subtree rather than listing every level below it.
 */
export function inputProblems(value: unknown, base: string, maxErrors = 20): FieldError[] {
  const errors: FieldError[] = []
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: base, depth: 0 }]
  while (stack.length > 0 && errors.length < maxErrors) {
    const item = stack.pop() as { value: unknown; path: string; depth: number }
    const { value: v, path, depth } = item
    const at = path || '(body)'
    if (typeof v === 'string') {
      const problem = textProblem(v)
      if (problem) errors.push({ path: at, message: problem })
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        errors.push({
          path: at,
          message: 'must be a finite number: the value is outside the range of a double (about ±1.8e308)',
        })
      }
    } else if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)) {
      // (Raw bytes, should a route take them, are data, not text: left to the route.)
      if (depth >= MAX_NESTING_DEPTH) {
        errors.push({ path: at, message: `nests deeper than ${MAX_NESTING_DEPTH} levels` })
        continue
      }
      const entries: Array<[string | number, unknown]> = Array.isArray(v)
        ? v.map((x, i) => [i, x])
        : Object.entries(v)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]
        const childPath = join(path, key)
        if (typeof key === 'string') {
          const problem = textProblem(key)
          if (problem) {
            errors.push({ path: childPath, message: `field name ${problem}` })
            continue
          }
        }
        stack.push({ value: child, path: childPath, depth: depth + 1 })
      }
    }
  }
  return errors
}

function rejectIfAny(errors: FieldError[]): void {
  if (errors.length === 0) return
  throw new ValidationError(errors.map((e) => `${e.path} ${e.message}`).join('; '), errors)
}

const MULTIPART = /^multipart\/[^;]*(;|$)/i
const BOUNDARY = /;\s*boundary=("[^"]+"|[^;\s]+)/i

export function installInputGuards(app: FastifyInstance): void {
  // Before the body is read: a multipart body whose boundary is not named cannot be parsed.
  app.addHook('preParsing', async (request: FastifyRequest) => {
    const type = request.headers['content-type']
    if (typeof type === 'string' && MULTIPART.test(type) && !BOUNDARY.test(type)) {
      throw new ValidationError('multipart content type without a boundary parameter', [
        {
          path: 'content-type',
          message: 'multipart/form-data needs a boundary, e.g. multipart/form-data; boundary=----x',
        },
      ])
    }
  })

  // After parsing, before the schemas: whatever the content type produced.
  app.addHook('preValidation', async (request: FastifyRequest) => {
    rejectIfAny([
      ...inputProblems(request.params, 'params'),
      ...inputProblems(request.query, 'query'),
      ...inputProblems(request.body, ''),
    ])
  })

  // After the schemas: ajv coerces the query string "1e309" to Infinity and then
  // skips its minimum/maximum checks for a non-finite number, so look again.
  app.addHook('preHandler', async (request: FastifyRequest) => {
    rejectIfAny([...inputProblems(request.params, 'params'), ...inputProblems(request.query, 'query')])
  })
}
