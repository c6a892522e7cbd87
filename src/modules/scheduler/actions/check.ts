// Small payload checks that collect every error with its path (relative to the
// payload: `argv[0]`, `headers.Accept`) and a message that names the field,
// what it expects and what it got.

import type { FieldError } from '../../../errors.js'

export type Obj = Record<string, unknown>

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (typeof value === 'object') return 'an object'
  return String(value)
}

export function join(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`
  return base === '' ? key : `${base}.${key}`
}

export class Checker {
  readonly errors: FieldError[] = []

  constructor(private readonly base = '') {}

  path(key: string | number): string {
    return join(this.base, key)
  }

  add(key: string | number, message: string): void {
    this.errors.push({ path: this.path(key), message })
  }

  /** The payload itself must be an object with only the given keys. */
  object(value: unknown, allowed: readonly string[]): Obj | undefined {
    if (!isObject(value)) {
      this.errors.push({ path: this.base || 'payload', message: `must be an object, got ${describe(value)}` })
      return undefined
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.add(key, `unknown field; expected one of ${allowed.join(', ')}`)
    }
    return value
  }

  string(obj: Obj, key: string, opts: { required?: boolean; maxLength?: number } = {}): string | undefined {
    const v = obj[key]
    if (v === undefined) {
      if (opts.required) this.add(key, 'is required')
      return undefined
    }
    if (typeof v !== 'string' || v.trim() === '') {
      this.add(key, `must be a non-empty string, got ${describe(v)}`)
      return undefined
    }
    if (opts.maxLength !== undefined && v.length > opts.maxLength) {
      this.add(key, `must be at most ${opts.maxLength} characters, got ${v.length}`)
      return undefined
    }
    return v
  }

  integer(
    obj: Obj,
    key: string,
    min: number,
    max: number,
    opts: { required?: boolean } = {},
  ): number | undefined {
    const v = obj[key]
    if (v === undefined) {
      if (opts.required) this.add(key, 'is required')
      return undefined
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.add(key, `must be a whole number from ${min} to ${max}, got ${describe(v)}`)
      return undefined
    }
    return v
  }

  boolean(obj: Obj, key: string): boolean | undefined {
    const v = obj[key]
    if (v === undefined) return undefined
    if (typeof v !== 'boolean') {
      this.add(key, `must be true or false, got ${describe(v)}`)
      return undefined
    }
    return v
  }

  oneOf<T extends string>(
    obj: Obj,
    key: string,
    values: readonly T[],
    opts: { required?: boolean } = {},
  ): T | undefined {
    const v = obj[key]
    if (v === undefined) {
      if (opts.required) this.add(key, `is required; one of ${values.join(', ')}`)
      return undefined
    }
    if (typeof v !== 'string' || !values.includes(v as T)) {
      this.add(key, `must be one of ${values.join(', ')}, got ${describe(v)}`)
      return undefined
    }
    return v as T
  }

  /** An object of string values, keys matching `keyPattern`. */
  stringMap(obj: Obj, key: string, keyPattern: RegExp, keyRule: string): Record<string, string> | undefined {
    const v = obj[key]
    if (v === undefined) return undefined
    if (!isObject(v)) {
      this.add(key, `must be an object of strings, got ${describe(v)}`)
      return undefined
    }
    const out: Record<string, string> = {}
    const before = this.errors.length
    for (const [name, value] of Object.entries(v)) {
      const path = join(this.path(key), name)
      if (!keyPattern.test(name)) this.errors.push({ path, message: `name must be ${keyRule}` })
      else if (typeof value !== 'string') {
        this.errors.push({ path, message: `must be a string, got ${describe(value)}` })
      } else out[name] = value
    }
    return this.errors.length === before ? out : undefined
  }
}
