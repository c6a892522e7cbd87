// Where a paged list stands ("101–200 of 1,234 agents") and Previous / Next.
// Shown under every paged list; the buttons only when there is more than a page.

import { PAGE_SIZE, type Paged } from '../api/paging'

export function Pager({
  what,
  page,
  onOffset,
}: {
  what: string
  page: Paged<unknown>
  onOffset(offset: number): void
}) {
  const { offset, total, items } = page
  if (total === 0) return null
  const first = Math.min(offset + 1, total)
  const last = offset + items.length
  const n = (x: number) => x.toLocaleString()
  return (
    <nav className="pager" aria-label={`Pages of ${what}`}>
      <span aria-live="polite">
        {items.length === 0
          ? `none here of ${n(total)} ${what}`
          : `${n(first)}–${n(last)} of ${n(total)} ${what}`}
      </span>
      {total > PAGE_SIZE && (
        <>
          <button
            type="button"
            disabled={offset === 0}
            onClick={() => onOffset(Math.max(0, offset - PAGE_SIZE))}
          >
            Previous page
          </button>
          <button type="button" disabled={last >= total} onClick={() => onOffset(offset + PAGE_SIZE)}>
            Next page
          </button>
        </>
      )}
    </nav>
  )
}
