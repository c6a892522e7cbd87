// `api`: one HTTP request. Success is the expected status (any 2xx unless
// given). Redirects are followed by hand so that every hop is checked against
// the host allow-list (MYNTRIX_API_ACTION_ALLOW): a listed host must not be
// able to bounce the server to an unlisted one.

import { Checker, describe } from './check.js'
import { type Action, type ActionContext, type ActionOutcome, ActionTimeout, abortFlags } from './types.js'

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

const KEYS = ['url', 'method', 'headers', 'body', 'timeoutMs', 'expectedStatus', 'followRedirects'] as const
const DEFAULT_TIMEOUT_MS = 30_000
const MAX_REDIRECTS = 5
/** How much of the response body goes into the log. */
export const BODY_EXCERPT_CHARS = 4096
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function validate(payload: unknown) {
  const c = new Checker()
  const obj = c.object(payload, KEYS)
  if (!obj) return { ok: false as const, errors: c.errors }
  const url = c.string(obj, 'url', { required: true, maxLength: 8192 })
  if (url !== undefined) {
    let parsed: URL | undefined
    try {
      parsed = new URL(url)
    } catch {
      c.add('url', `must be an absolute http(s) URL, got ${describe(url)}`)
    }
    if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      c.add('url', `must use http or https, got ${parsed.protocol.replace(':', '')}`)
    }
  }
  if (obj.method !== undefined && typeof obj.method === 'string') obj.method = obj.method.toUpperCase()
  const method = c.oneOf(obj, 'method', HTTP_METHODS)
  const headers = c.stringMap(obj, 'headers', HEADER_NAME, 'an HTTP header token')
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (/[\r\n\0]/.test(value))
      c.errors.push({ path: `headers.${name}`, message: 'must not contain CR, LF or NUL' })
  }
  if (obj.body !== undefined && (method === 'GET' || method === 'HEAD' || method === undefined)) {
    c.add('body', `a ${method ?? 'GET'} request has no body; set method to POST, PUT or PATCH`)
  }
  c.integer(obj, 'timeoutMs', 1, 3_600_000)
  const expected = obj.expectedStatus
  if (expected !== undefined) {
    const list = Array.isArray(expected) ? expected : [expected]
    if (
      list.length === 0 ||
      list.some((s) => !Number.isInteger(s) || (s as number) < 100 || (s as number) > 599)
    ) {
      c.add(
        'expectedStatus',
        `must be an HTTP status 100-599 or a list of them, got ${JSON.stringify(expected)}`,
      )
    }
  }
  c.boolean(obj, 'followRedirects')
  return c.errors.length > 0
    ? { ok: false as const, errors: c.errors }
    : { ok: true as const, value: obj as unknown as ApiPayload }
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

function parseAllowEntry(raw: string): { name: string; port?: string } | undefined {
  const entry = raw.trim().toLowerCase()
  if (entry === '') return undefined
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
  if (bracketed) return { name: bracketed[1], port: bracketed[2] }
  // Two or more colons: a bare IPv6 address, which cannot carry a port.
  if ((entry.match(/:/g) ?? []).length > 1) return { name: entry }
  const [name, port] = entry.split(':')
  return { name, port }
}

async function readExcerpt(res: Response): Promise<{ text: string; more: boolean }> {
  if (!res.body) return { text: '', more: false }
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let more = false
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
      if (text.length >= BODY_EXCERPT_CHARS) {
        more = true
        break
      }
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
  return { text: text.slice(0, BODY_EXCERPT_CHARS), more }
}

function statusMatches(status: number, expected: ApiPayload['expectedStatus']): boolean {
  if (expected === undefined) return status >= 200 && status < 300
  return (Array.isArray(expected) ? expected : [expected]).includes(status)
}

function errorText(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } }
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message
}

async function run(payload: ApiPayload, ctx: ActionContext): Promise<ActionOutcome> {
  const timeoutMs = payload.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const own = new AbortController()
  const timer = setTimeout(() => own.abort(new ActionTimeout(timeoutMs)), timeoutMs)
  const signal = AbortSignal.any([ctx.signal, own.signal])
  const fail = (error: string, flags: { timedOut?: boolean; canceled?: boolean } = {}): ActionOutcome => {
    ctx.log.line(error)
    return { ok: false, error, ...flags }
  }
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
    const started = performance.now()
    for (let hop = 0; ; hop++) {
      if (!hostAllowed(url, ctx.services.apiAllowHosts)) {
        return fail(`host ${url.host} is not in the allow-list (MYNTRIX_API_ACTION_ALLOW)`)
      }
      ctx.log.line(`${method} ${url.href}`)
      let res: Response
      try {
        res = await fetch(url, { method, headers, body, signal, redirect: 'manual' })
      } catch (err) {
        if (signal.aborted) {
          const flags = abortFlags(signal)
          return fail(`request ${flags.timedOut ? `timed out after ${timeoutMs} ms` : 'canceled'}`, flags)
        }
        return fail(`request failed: ${errorText(err)}`)
      }
      const location = res.headers.get('location')
      if (payload.followRedirects !== false && location && [301, 302, 303, 307, 308].includes(res.status)) {
        await res.body?.cancel().catch(() => {})
        if (hop >= MAX_REDIRECTS) return fail(`more than ${MAX_REDIRECTS} redirects`)
        ctx.log.line(`-> ${res.status} redirect to ${location}`)
        url = new URL(location, url)
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
          method = 'GET'
          body = undefined
        }
        continue
      }
      let excerpt: { text: string; more: boolean }
      try {
        excerpt = await readExcerpt(res)
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
      ctx.log.line(`-> ${res.status} ${res.statusText} in ${ms} ms`)
      if (excerpt.text !== '') {
        ctx.log.line(
          excerpt.text + (excerpt.more ? `\n[... body cut at ${BODY_EXCERPT_CHARS} characters ...]` : ''),
        )
      }
      if (!statusMatches(res.status, payload.expectedStatus)) {
        const want = payload.expectedStatus === undefined ? '2xx' : JSON.stringify(payload.expectedStatus)
        return fail(`expected status ${want}, got ${res.status}`)
      }
      return { ok: true }
    }
  } finally {
    clearTimeout(timer)
  }
}

export const apiAction: Action<ApiPayload> = {
  type: 'api',
  validate,
  run,
}
