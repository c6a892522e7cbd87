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

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type FieldError, PayloadTooLargeError, RequestTimeoutError, ValidationError } from '../errors.js'
import { invalid } from '../validation.js'

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
 * The most values (strings, numbers, objects, array elements, ...) one request
 * part may hold. A 10 MB body of `[0,0,...]` is five million values; walking
 * them (on public routes too, before any schema) costs seconds of event loop,
 * while no real request comes near this.
 */
export const MAX_INPUT_VALUES = 100_000

// One container being walked: its own key in its parent (for error paths) and
// the next child to visit. Paths are built only when an error is found, so a
// large array costs one counter, not a string and an object per element.
interface Frame {
  value: object
  keys: string[] | null // null for an array
  next: number
  key: string | number | undefined
}

function isEmptyPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || Array.isArray(value)) return false
  for (const _ in value) return false
  return true
}

/**
 * Every problem of the three kinds above in a parsed value, with dotted paths
 * under `base` (`configuration.x`, `query.limit`). Iterative, so that depth
 * itself cannot overflow the stack; stops at the first too-deep branch of each
 * subtree rather than listing every level below it. Throws a 413 past
 * MAX_INPUT_VALUES values. `numbersOnly` skips the text checks (the second
 * look after the schemas, which can only have added non-finite numbers).
 */
export function inputProblems(
  value: unknown,
  base: string,
  maxErrors = 20,
  options: { numbersOnly?: boolean; maxValues?: number } = {},
): FieldError[] {
  // Most requests have no body and empty params or query: nothing to walk.
  if (value === undefined || value === null || isEmptyPlainObject(value)) return []
  const maxValues = options.maxValues ?? MAX_INPUT_VALUES
  const text = !options.numbersOnly
  const errors: FieldError[] = []
  const frames: Frame[] = []
  let count = 0
  const pathOf = (key: string | number | undefined): string => {
    let p = base
    for (let i = 1; i < frames.length; i++) p = join(p, frames[i].key as string | number)
    if (key !== undefined) p = join(p, key)
    return p || '(body)'
  }
  const visit = (v: unknown, key: string | number | undefined): void => {
    if (++count > maxValues) {
      throw new PayloadTooLargeError(`${base || 'the body'} holds more than ${maxValues} values`)
    }
    if (typeof v === 'string') {
      if (!text) return
      const problem = textProblem(v)
      if (problem) errors.push({ path: pathOf(key), message: problem })
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        errors.push({
          path: pathOf(key),
          message: 'must be a finite number: the value is outside the range of a double (about ±1.8e308)',
        })
      }
    } else if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)) {
      // (Raw bytes, should a route take them, are data, not text: left to the route.)
      if (frames.length >= MAX_NESTING_DEPTH) {
        errors.push({ path: pathOf(key), message: `nests deeper than ${MAX_NESTING_DEPTH} levels` })
        return
      }
      frames.push({ value: v, keys: Array.isArray(v) ? null : Object.keys(v), next: 0, key })
    }
  }
  visit(value, undefined)
  while (frames.length > 0 && errors.length < maxErrors) {
    const f = frames[frames.length - 1]
    if (f.keys === null) {
      const arr = f.value as unknown[]
      if (f.next >= arr.length) {
        frames.pop()
        continue
      }
      const i = f.next++
      visit(arr[i], i)
    } else {
      if (f.next >= f.keys.length) {
        frames.pop()
        continue
      }
      const k = f.keys[f.next++]
      if (text) {
        const problem = textProblem(k)
        if (problem) {
          errors.push({ path: pathOf(k), message: `field name ${problem}` })
          continue
        }
      }
      visit((f.value as Record<string, unknown>)[k], k)
    }
  }
  return errors
}

/** The error a callback hook hands to `done`: a 400 listing every problem found, a 413, or none. */
function problemsOf(collect: () => FieldError[]): Error | undefined {
  let errors: FieldError[]
  try {
    errors = collect()
  } catch (err) {
    return err as Error
  }
  if (errors.length === 0) return undefined
  return invalid(errors)
}

const MULTIPART = /^multipart\/[^;]*(;|$)/i
const BOUNDARY = /;\s*boundary=("[^"]+"|[^;\s]+)/i

/**
 * Ends a request whose body stops arriving. Fastify's requestTimeout and
 * connectionTimeout are 0 (WebSockets and event streams live for hours), so
 * without this a client could hold sockets forever by announcing a body and
 * never sending it, on the public login routes too. Only requests that carry
 * a body are watched (upgrades and event streams have none), and only until
 * it is read: the timer is the socket's idle timer, so a slow body that keeps
 * moving is not cut off. The stalled read fails with a 408, answered with
 * `Connection: close` since the rest of the body may still come.
 */
const stopWatching = new WeakMap<FastifyRequest, () => void>()

function watchBody(request: FastifyRequest, reply: FastifyReply, idleMs: number): void {
  const raw = request.raw
  const headers = raw.headers
  const hasBody =
    headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  const socket = raw.socket as FastifyRequest['raw']['socket'] | undefined
  if (!hasBody || typeof socket?.setTimeout !== 'function' || typeof raw.setTimeout !== 'function') return
  const onTimeout = () => {
    if (raw.complete) return
    const err = Object.assign(
      new RequestTimeoutError(
        `the request body sent nothing for ${idleMs} ms (MYNTRIX_UPLOAD_IDLE_TIMEOUT_MS); the request was ended`,
      ),
      { statusCode: 408 },
    )
    reply.header('connection', 'close')
    // The body reader listens for this and fails the request with it.
    raw.emit('error', err)
  }
  // A listener on the request keeps Node's server from destroying the socket on
  // the timeout itself, so the 408 can still be written.
  raw.setTimeout(idleMs, onTimeout)
  const stop = () => {
    raw.off('timeout', onTimeout)
    raw.off('end', stop)
    raw.off('close', stop)
    // Back to no idle limit between requests, as Fastify's connectionTimeout 0 has it.
    socket.setTimeout(0)
  }
  raw.once('end', stop)
  raw.once('close', stop)
  // Once parsed, the body is the route's (a multipart upload reads it in its
  // handler, under its own timer).
  stopWatching.set(request, stop)
}

export function installInputGuards(app: FastifyInstance, options: { bodyIdleTimeoutMs?: number } = {}): void {
  const { bodyIdleTimeoutMs } = options
  if (bodyIdleTimeoutMs !== undefined && bodyIdleTimeoutMs > 0) {
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      watchBody(request, reply, bodyIdleTimeoutMs)
    })
  }

  // These hooks run on every request: callback hooks rather than async ones,
  // which would cost a promise and a microtask turn each time.

  // Before the body is read: a multipart body whose boundary is not named cannot be parsed.
  app.addHook('preParsing', (request: FastifyRequest, _reply, payload, done) => {
    const type = request.headers['content-type']
    if (typeof type === 'string' && MULTIPART.test(type) && !BOUNDARY.test(type)) {
      done(
        new ValidationError('multipart content type without a boundary parameter', [
          {
            path: 'content-type',
            message: 'multipart/form-data needs a boundary, e.g. multipart/form-data; boundary=----x',
          },
        ]),
      )
      return
    }
    done(null, payload)
  })

  // After parsing, before the schemas: whatever the content type produced.
  app.addHook('preValidation', (request: FastifyRequest, _reply, done) => {
    stopWatching.get(request)?.()
    done(
      problemsOf(() => [
        ...inputProblems(request.params, 'params'),
        ...inputProblems(request.query, 'query'),
        ...inputProblems(request.body, ''),
      ]),
    )
  })

  // After the schemas: ajv coerces a string such as "1e309" (in the query or a
  // path parameter; bodies are checked as sent, but a route may bring its own
  // validator) to Infinity and then skips its minimum/maximum checks for a
  // non-finite number, so look again. Only numbers can have changed, so this
  // pass skips the text checks.
  const numbersOnly = { numbersOnly: true }
  app.addHook('preHandler', (request: FastifyRequest, _reply, done) => {
    done(
      problemsOf(() => [
        ...inputProblems(request.params, 'params', 20, numbersOnly),
        ...inputProblems(request.query, 'query', 20, numbersOnly),
        ...inputProblems(request.body, '', 20, numbersOnly),
      ]),
    )
  })
}
