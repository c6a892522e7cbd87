// Lists are read a page at a time. The API answers a plain array with the
// total in X-Total-Count and at most 1,000 items per call, so a console that
// asked for "everything" would silently stop at 1,000; pages of PAGE_SIZE
// keep every list whole and the first paint small. The page number lives in
// the address (`?page=3`), so Back, reload and a shared link keep it.

import { useSearchParams } from 'react-router'
import { type FetchResult, totalOf, unwrap } from './client'

export const PAGE_SIZE = 100
/** The most one list call answers (the API's limit). */
export const LIST_MAX = 1000

/** One page of a list and the list's total. */
export interface Paged<T> {
  items: T[]
  total: number
  offset: number
}

/** A list answer as a page: its items, and the total from X-Total-Count. */
export function toPage<T>(result: FetchResult<T[]>, offset: number): Paged<T> {
  const items = unwrap(result)
  return { items, total: totalOf(result.response) ?? offset + items.length, offset }
}

/** Replaces, in a cached page, the items `change` maps (the same page back when nothing changed). */
export function mapPage<T>(page: Paged<T> | undefined, change: (item: T) => T): Paged<T> | undefined {
  if (!page) return page
  let changed = false
  const items = page.items.map((item) => {
    const next = change(item)
    if (next !== item) changed = true
    return next
  })
  return changed ? { ...page, items } : page
}

/** The offset `?page=N` (1-based) names; 0 when it names none. */
export function offsetOf(params: URLSearchParams): number {
  const n = Number(params.get('page') ?? '1')
  return Number.isInteger(n) && n > 1 ? (n - 1) * PAGE_SIZE : 0
}

/** The page offset from `?page=N` (1-based), and a setter that writes it back. */
export function usePageOffset(): [number, (offset: number) => void] {
  const [params, setParams] = useSearchParams()
  const offset = offsetOf(params)
  // A new history entry per page (the default), so Back returns to the page before.
  const setOffset = (next: number) =>
    setParams((p) => {
      const page = Math.floor(next / PAGE_SIZE) + 1
      if (page > 1) p.set('page', String(page))
      else p.delete('page')
      return p
    })
  return [offset, setOffset]
}
