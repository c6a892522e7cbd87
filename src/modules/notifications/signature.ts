// The webhook signature: HMAC-SHA256 with the rule's secret over
// `<unix seconds>.<body>`, sent as `X-Myntrix-Signature: t=<unix>,v1=<hex>`.
// The timestamp is inside what is signed, so a receiver that refuses old
// timestamps refuses a replayed request; docs/ALERTS.md shows the check.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'x-myntrix-signature'
const SECRET_PREFIX = 'whsec_'

/** A new signing secret: 32 random bytes, base64url, with a prefix that says what it is. */
export function newSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url')
}

export function signatureHex(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
}

/** The header value for `body` signed at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${signatureHex(secret, timestamp, body)}`
}

/**
 * What a receiver does (and the tests): parse the header, recompute, compare
 * in constant time, and refuse a timestamp further than `toleranceSeconds`
 * from `now`.
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  options: { now?: number; toleranceSeconds?: number } = {},
): boolean {
  if (!header) return false
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=')
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const
    }),
  )
  const t = Number(parts.get('t'))
  const v1 = parts.get('v1') ?? ''
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(v1)) return false
  const now = options.now ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false
  return timingSafeEqual(Buffer.from(signatureHex(secret, t, body), 'hex'), Buffer.from(v1, 'hex'))
}
