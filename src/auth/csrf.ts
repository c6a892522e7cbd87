// Cross-site request forgery rules for the session cookie. A cookie is an
// ambient credential: the browser attaches it to requests another site makes.
// SameSite=Strict already keeps it off cross-site requests in current
// browsers; this check is the second lock (older browsers, sibling sub-domains
// that count as "same site", a misconfigured proxy). Bearer tokens and API keys
// are never ambient, so they are not checked.

import { MyntrixError } from '../errors.js'

/** 403: a cookie-authenticated request that did not come from an allowed origin. */
export class CsrfError extends MyntrixError {
  readonly status = 403
  readonly type = 'csrf'
  override get title(): string {
    return 'Cross-Site Request Refused'
  }
}

export interface OriginFacts {
  /** The Origin header, if any. */
  origin: string | undefined
  /** The Sec-Fetch-Site header, if any. */
  secFetchSite: string | undefined
  /** This server's own origin as the request reached it: scheme + Host. */
  serverOrigin: string
}

/** Lower-case, no trailing slash, no default port: `http://h:80` and `http://h` are one origin. */
export function normalizeOrigin(origin: string): string {
  const o = origin.trim().toLowerCase().replace(/\/+$/, '')
  if (o.startsWith('http://') && o.endsWith(':80')) return o.slice(0, -3)
  if (o.startsWith('https://') && o.endsWith(':443')) return o.slice(0, -4)
  return o
}

/**
 * Origins named in MYNTRIX_CORS_ORIGIN (comma-separated). `*` lets any origin
 * read public answers through CORS but never counts for cookies: allowing
 * every origin to send the cookie would be no check at all.
 */
export function credentialedOrigins(corsOrigin: string | null): Set<string> {
  return new Set(
    (corsOrigin ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o && o !== '*')
      .map(normalizeOrigin),
  )
}

/** Throws CsrfError unless the request shows it came from this origin or an allowed one. */
export function assertSameOrAllowedOrigin(facts: OriginFacts, allowed: Set<string>, what: string): void {
  const { origin, secFetchSite, serverOrigin } = facts
  if (origin !== undefined) {
    const o = normalizeOrigin(origin)
    if (o === normalizeOrigin(serverOrigin) || allowed.has(o)) return
    throw new CsrfError(
      `${what} authenticated by the session cookie came from origin ${origin}, which is neither this server (${serverOrigin}) nor in MYNTRIX_CORS_ORIGIN`,
    )
  }
  if (secFetchSite === 'same-origin') return
  throw new CsrfError(
    `${what} authenticated by the session cookie has no Origin header (and Sec-Fetch-Site is ${secFetchSite ?? 'absent'}), so it cannot be shown to come from this site; send Origin, or use a bearer token`,
  )
}
