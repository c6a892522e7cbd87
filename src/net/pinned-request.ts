// One HTTP request to an address the outbound policy already checked
// (src/net/outbound-policy.ts). The socket's lookup answers that address, so
// the name is not resolved again (a second answer could differ: DNS
// rebinding), while TLS still verifies the certificate against the name and
// the Host header still carries it. node:http rather than fetch: fetch cannot
// be told which address to connect to. Used by the scheduler's `api` action
// and the notification webhooks.

import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import type { CheckedAddress } from './outbound-policy.js'

export interface PinnedRequestInit {
  method: string
  headers: Record<string, string>
  body?: string
  signal: AbortSignal
}

/** Sends the request to `target` and resolves with the response head (the caller reads or destroys the body). */
export function sendPinned(
  url: URL,
  init: PinnedRequestInit,
  target: CheckedAddress,
): Promise<IncomingMessage> {
  const lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }])
    else callback(null, target.address, target.family)
  }) as unknown as LookupFunction
  const headers = { ...init.headers }
  if (init.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
    headers['content-length'] = String(Buffer.byteLength(init.body))
  }
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http
    // agent: false: no pooled socket outlives the request or is shared between hops.
    const req = client.request(
      url,
      { method: init.method, headers, signal: init.signal, lookup, agent: false },
      resolve,
    )
    req.on('error', reject)
    req.end(init.body)
  })
}

/** A promise that also settles when `signal` aborts (dns lookups cannot be cancelled). */
export function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** The port a URL reaches (its default when none is written). */
export function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
}

/** A failed request's message with its cause (`fetch failed: connect ECONNREFUSED ...`). */
export function errorText(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } }
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message
}
