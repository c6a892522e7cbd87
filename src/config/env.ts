// The one parser of environment values: every MYNTRIX_* setting is read
// through these, so a bad value always stops start-up with the same one-line
// ConfigError naming the variable and what it may be.

import { ConfigError } from '../errors.js'

export type Env = Record<string, string | undefined>

/** The trimmed value, or undefined when unset or blank (blank means "use the default"). */
export function str(env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

/** An integer in [min, max]; undefined when unset. */
export function optionalInt(env: Env, name: string, min: number, max: number): number | undefined {
  const v = str(env, name)
  if (v === undefined) return undefined
  if (!/^-?\d+$/.test(v))
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${v}"`)
  const n = Number(v)
  if (n < min || n > max)
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got ${n}`)
  return n
}

export function int(env: Env, name: string, def: number, min: number, max: number): number {
  return optionalInt(env, name, min, max) ?? def
}

export function bool(env: Env, name: string, def: boolean): boolean {
  const v = str(env, name)
  if (v === undefined) return def
  if (['true', '1', 'yes'].includes(v.toLowerCase())) return true
  if (['false', '0', 'no'].includes(v.toLowerCase())) return false
  throw new ConfigError(name, `must be true or false, got "${v}"`)
}
