// Where the server's children and devices may connect on a non-admin's behalf
// (MYNTRIX_OUTBOUND_*; docs/SECURITY.md). net/outbound-policy.ts builds the
// policy from these; the devices and scheduler areas share that one policy.

import { ConfigError } from '../errors.js'
import {
  type AllowEntry,
  OUTBOUND_ALLOW_SETTING,
  OUTBOUND_PRIVATE_SETTING,
  parseOutboundAllow,
} from '../net/outbound-policy.js'
import { type Env, str } from './env.js'

export interface OutboundSettings {
  /** Destinations non-admins may reach beyond the safe default (MYNTRIX_OUTBOUND_ALLOW). */
  allow: AllowEntry[]
  /** Whether non-admins may reach private ranges (MYNTRIX_OUTBOUND_PRIVATE=allow|deny, default allow). */
  allowPrivate: boolean
  /** This host's Redis (MYNTRIX_REDIS_URL), whose port non-admins may not reach; unset: none known. */
  redisUrl: string | undefined
}

function allowPrivate(env: Env): boolean {
  const v = str(env, OUTBOUND_PRIVATE_SETTING)?.toLowerCase()
  if (v === undefined || v === 'allow') return true
  if (v === 'deny') return false
  throw new ConfigError(OUTBOUND_PRIVATE_SETTING, `must be allow or deny, got "${v}"`)
}

export function outboundSettings(env: Env): OutboundSettings {
  return {
    allow: parseOutboundAllow(str(env, OUTBOUND_ALLOW_SETTING)),
    allowPrivate: allowPrivate(env),
    redisUrl: str(env, 'MYNTRIX_REDIS_URL'),
  }
}
