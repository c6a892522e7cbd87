// The origin rule for cookie-authenticated writes and WebSocket upgrades.

import { describe, expect, it } from 'vitest'
import {
  assertSameOrAllowedOrigin,
  CsrfError,
  credentialedOrigins,
  normalizeOrigin,
} from '../../src/auth/csrf.js'

const server = 'http://myntrix.local:8080'

function check(origin: string | undefined, secFetchSite?: string, allowed = credentialedOrigins(null)) {
  return () => assertSameOrAllowedOrigin({ origin, secFetchSite, serverOrigin: server }, allowed, 'POST /x')
}

describe('cross-site request rule', () => {
  it('accepts this server’s own origin, in any letter case', () => {
    expect(check('http://myntrix.local:8080')).not.toThrow()
    expect(check('HTTP://Myntrix.Local:8080')).not.toThrow()
  })

  it('refuses another origin, another port or scheme of this host, and the opaque origin "null"', () => {
    for (const origin of [
      'http://evil.example',
      'http://myntrix.local:8081',
      'https://myntrix.local:8080',
      'null',
    ])
      expect(check(origin), origin).toThrow(CsrfError)
  })

  it('accepts origins named in MYNTRIX_CORS_ORIGIN, but never because of *', () => {
    const allowed = credentialedOrigins('https://dash.example/, *')
    expect(check('https://dash.example', undefined, allowed)).not.toThrow()
    expect(check('https://other.example', undefined, allowed)).toThrow(CsrfError)
  })

  it('without Origin, trusts only Sec-Fetch-Site: same-origin', () => {
    expect(check(undefined, 'same-origin')).not.toThrow()
    for (const site of ['same-site', 'cross-site', 'none', undefined])
      expect(check(undefined, site)).toThrow(CsrfError)
  })

  it('treats a default port as absent', () => {
    expect(normalizeOrigin('http://h:80')).toBe('http://h')
    expect(normalizeOrigin('https://h:443/')).toBe('https://h')
    expect(normalizeOrigin('http://h:443')).toBe('http://h:443')
  })

  it('answers 403 with type csrf, naming the origin', () => {
    let caught: unknown
    try {
      check('http://evil.example')()
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(CsrfError)
    expect((caught as CsrfError).status).toBe(403)
    expect((caught as CsrfError).type).toBe('csrf')
    expect((caught as CsrfError).message).toContain('http://evil.example')
  })
})
