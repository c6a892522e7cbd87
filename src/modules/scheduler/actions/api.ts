// `api`: one HTTP request. Success is the expected status (any 2xx unless
// given). Every hop, the first and each redirect, is checked against the
// outbound policy for the task owner's role (src/net/outbound-policy.ts) and
// connects to the address the policy checked (src/net/pinned-request.ts);
// redirects are followed by hand for that, and against the optional host list
// MYNTRIX_API_ACTION_ALLOW, so a reachable host cannot bounce the server to
// one that is not.

import type { IncomingMessage } from 'node:http'
import { StringDecoder } from 'node:string_decoder'
import { Type } from '@sinclair/typebox'
import { OutboundDeniedError, OutboundPolicy } from '../../../net/outbound-policy.js'
import { abortable, errorText, portOf, sendPinned as send } from '../../../net/pinned-request.js'
import { describeValue } from '../../../validation.js'
import { checked, isObject, nonEmpty, payloadErrors, wholeNumber } from './check.js'
import {
  type Action,
  type ActionContext,
  type ActionOutcome,
  ActionTimeout,
  abortFlags,
  failureOf,
} from './types.js'

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
export type HttpMethod = (typeof HTTP_METHODS)[number]

export interface ApiPayload {
  url: string
  method?: HttpMethod
  headers?: Record<string, string>
  /** A string is sent as is; anything else as JSON. */
  body?: unknown
  /** Default 30 s. */
  timeoutMs?: number
  /** Status or statuses that count as success; default any 2xx. */
  expectedStatus?: number | number[]
  /** Follow up to 5 redirects (default true). */
  followRedirects?: boolean
}

const DEFAULT_TIMEOUT_MS = 30_000
const MAX_REDIRECTS = 5
/** How much of the response body goes into the log. */
export const BODY_EXCERPT_CHARS = 4096
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const HTTP_STATUS = { minimum: 100, maximum: 599 }

export const ApiPayloadSchema = Type.Object(
  {
    url: Type.String({
      ...nonEmpty(8192, 'absolute http or https URL'),
      'x-required-message': 'is required',
    }),
    method: Type.Optional(
      Type.String({
        enum: [...HTTP_METHODS],
        description: 'default GET (any case; stored in upper case)',
        'x-message': `must be one of ${HTTP_METHODS.join(', ')}, got {got}`,
      }),
    ),
    headers: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: Type.String({ 'x-message': 'must be a string, got {got}' }),
          description: 'header name (an HTTP token) to value (no CR, LF or NUL)',
          'x-message': 'must be an object of strings, got {got}',
        },
      ),
    ),
    body: Type.Optional(
      Type.Unknown({ description: 'a string is sent as is, anything else as JSON; not with GET or HEAD' }),
    ),
    timeoutMs: Type.Optional(Type.Integer(wholeNumber(1, 3_600_000, 'default 30000'))),
    expectedStatus: Type.Optional(
      Type.Union(
        [
          Type.Integer(HTTP_STATUS),
          Type.Array(
            Type.Integer({ ...HTTP_STATUS, 'x-message': 'must be an HTTP status 100-599, got {got}' }),
            { minItems: 1 },
          ),
        ],
        {
          description: 'status or statuses that count as success; default any 2xx',
          'x-message': 'must be an HTTP status 100-599 or a list of them, got {got}',
        },
      ),
    ),
    followRedirects: Type.Optional(
      Type.Boolean({
        description: 'follow up to 5 redirects (default true)',
        'x-message': 'must be true or false, got {got}',
      }),
    ),
  },
  { additionalProperties: false, title: 'ApiPayload' },
)

function validate(payload: unknown) {
  // Any case is taken; the stored method is upper case.
  if (isObject(payload) && typeof payload.method === 'string') payload.method = payload.method.toUpperCase()
  const errors = payloadErrors(ApiPayloadSchema, payload)
  if (!isObject(payload)) return checked<ApiPayload>(errors, payload)
  const { url, method, headers } = payload
  if (typeof url === 'string' && url.trim() !== '') {
    let parsed: URL | undefined
    try {
      parsed = new URL(url)
    } catch {
      errors.push({ path: 'url', message: `must be an absolute http(s) URL, got ${describeValue(url)}` })
    }
    if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      errors.push({ path: 'url', message: `must use http or https, got ${parsed.protocol.replace(':', '')}` })
    }
  }
  if (isObject(headers)) {
    for (const [name, value] of Object.entries(headers)) {
      if (!HEADER_NAME.test(name))
        errors.push({ path: `headers.${name}`, message: 'name must be an HTTP header token' })
      else if (typeof value === 'string' && /[\r\n\0]/.test(value))
        errors.push({ path: `headers.${name}`, message: 'must not contain CR, LF or NUL' })
    }
  }
  if (payload.body !== undefined && (method === 'GET' || method === 'HEAD' || method === undefined)) {
    errors.push({
      path: 'body',
      message: `a ${typeof method === 'string' ? method : 'GET'} request has no body; set method to POST, PUT or PATCH`,
    })
  }
  return checked<ApiPayload>(errors, payload)
}

/**
 * Whether `url`'s host is on the list. Entries: `example.com` (that host),
 * `*.example.com` (its subdomains), `example.com:8080` (that port only).
 * An empty or missing list allows every host.
 */
export function hostAllowed(url: URL, allow: readonly string[] | undefined): boolean {
  if (!allow || allow.length === 0) return true
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '')
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  return allow.some((raw) => {
    const entry = parseAllowEntry(raw)
    if (!entry) return false
    if (entry.port !== undefined && entry.port !== port) return false
    if (entry.name.startsWith('*.')) return host.endsWith(entry.name.slice(1))
    return host === entry.name
  })
}

/** One MYNTRIX_API_ACTION_ALLOW entry: a name (maybe `*.`-prefixed) and maybe a port. */
export function parseAllowEntry(raw: string): { name: string; port?: string } | undefined {
  const entry = raw.trim().toLowerCase()
  if (entry === '') return undefined
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
  // The first group always takes part in a match: `?? ''` only satisfies the type.
  if (bracketed) return { name: bracketed[1] ?? '', port: bracketed[2] }
  // Two or more colons: a bare IPv6 address, which cannot carry a port.
  if ((entry.match(/:/g) ?? []).length > 1) return { name: entry }
  const [name = '', port] = entry.split(':')
  return { name, port }
}

async function readExcerpt(res: IncomingMessage): Promise<{ text: string; more: boolean }> {
  const decoder = new StringDecoder('utf8')
  let text = ''
  let more = false
  try {
    for await (const chunk of res) {
      text += decoder.write(chunk as Buffer)
      if (text.length >= BODY_EXCERPT_CHARS) {
        more = true
        break
      }
    }
    text += decoder.end()
  } finally {
    res.destroy()
  }
  return { text: text.slice(0, BODY_EXCERPT_CHARS), more }
}

function statusMatches(status: number, expected: ApiPayload['expectedStatus']): boolean {
  if (expected === undefined) return status >= 200 && status < 300
  return (Array.isArray(expected) ? expected : [expected]).includes(status)
}

async function run(payload: ApiPayload, ctx: ActionContext): Promise<ActionOutcome> {
  const timeoutMs = payload.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const own = new AbortController()
  const timer = setTimeout(() => own.abort(new ActionTimeout(timeoutMs)), timeoutMs)
  const signal = AbortSignal.any([ctx.signal, own.signal])
  const fail = failureOf(ctx)
  try {
    let url = new URL(payload.url)
    let method: string = payload.method ?? 'GET'
    const headers: Record<string, string> = { ...payload.headers }
    let body: string | undefined
    if (payload.body !== undefined) {
      if (typeof payload.body === 'string') body = payload.body
      else {
        body = JSON.stringify(payload.body)
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
          headers['content-type'] = 'application/json'
        }
      }
    }
    const policy = ctx.services.outbound ?? new OutboundPolicy()
    const started = performance.now()
    for (let hop = 0; ; hop++) {
      if (!hostAllowed(url, ctx.services.apiAllowHosts)) {
        return fail(`host ${url.host} is not in the allow-list (MYNTRIX_API_ACTION_ALLOW)`)
      }
      ctx.log.line(`${method} ${url.href}`)
      let res: IncomingMessage
      try {
        const target = await abortable(
          policy.resolve({
            role: ctx.actor.role,
            host: url.hostname,
            port: portOf(url),
            purpose: 'api action',
          }),
          signal,
        )
        res = await send(url, { method, headers, body, signal }, target)
      } catch (err) {
        if (signal.aborted) {
          const flags = abortFlags(signal)
          return fail(`request ${flags.timedOut ? `timed out after ${timeoutMs} ms` : 'canceled'}`, flags)
        }
        if (err instanceof OutboundDeniedError) return fail(err.message)
        return fail(`request failed: ${errorText(err)}`)
      }
      const status = res.statusCode ?? 0
      const location = res.headers.location
      if (payload.followRedirects !== false && location && [301, 302, 303, 307, 308].includes(status)) {
        res.destroy()
        if (hop >= MAX_REDIRECTS) return fail(`more than ${MAX_REDIRECTS} redirects`)
        ctx.log.line(`-> ${status} redirect to ${location}`)
        try {
          url = new URL(location, url)
        } catch {
          return fail(`redirect to an invalid URL ${JSON.stringify(location)}`)
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
          return fail(`redirect to ${url.protocol.replace(':', '')}, only http and https are followed`)
        }
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET'
          body = undefined
        }
        continue
      }
      let excerpt: { text: string; more: boolean }
      try {
        excerpt = await abortable(readExcerpt(res), signal)
      } catch (err) {
        if (signal.aborted) {
          const flags = abortFlags(signal)
          return fail(
            `reading the response ${flags.timedOut ? `timed out after ${timeoutMs} ms` : 'was canceled'}`,
            flags,
          )
        }
        return fail(`reading the response failed: ${errorText(err)}`)
      }
      const ms = Math.round(performance.now() - started)
      ctx.log.line(`-> ${status} ${res.statusMessage ?? ''} in ${ms} ms`)
      if (excerpt.text !== '') {
        ctx.log.line(
          excerpt.text + (excerpt.more ? `\n[... body cut at ${BODY_EXCERPT_CHARS} characters ...]` : ''),
        )
      }
      if (!statusMatches(status, payload.expectedStatus)) {
        const want = payload.expectedStatus === undefined ? '2xx' : JSON.stringify(payload.expectedStatus)
        return fail(`expected status ${want}, got ${status}`)
      }
      return { ok: true }
    }
  } finally {
    clearTimeout(timer)
  }
}

export const apiAction: Action<ApiPayload> = {
  type: 'api',
  payloadSchema: ApiPayloadSchema,
  validate,
  // Where it may connect is the outbound policy's, by the owner's role at run time.
  requiredRole: () => null,
  run,
}
