// A value another node answered arrives as JSON: its times are ISO strings.
// Services that return a routed value give it back its Dates here, so callers
// see the same shape whether the action ran on this node or on the holder.

/** `value` with each of `keys` that holds a string turned into a Date (null and Dates stay). */
export function withDates<T extends object>(value: T, keys: readonly (keyof T)[]): T {
  const out = { ...value }
  for (const key of keys) {
    const v = out[key]
    if (typeof v === 'string') out[key] = new Date(v) as T[keyof T]
  }
  return out
}
