// Where an item goes in a queue, pure: the queue is ordered by position; a new
// item goes after every waiting item of the same or a higher priority (before
// the lower ones); a move puts it at a 1-based place. Answers the whole new
// order, so the repository renumbers 1..n in one pass.

export interface Placed {
  id: string
  priority: number
}

/** The order after adding `items` (in their order) to `queue` by priority. */
export function placeByPriority<T extends Placed>(queue: readonly T[], items: readonly T[]): T[] {
  const order = [...queue]
  for (const item of items) {
    let at = order.length
    while (at > 0 && order[at - 1]!.priority < item.priority) at--
    order.splice(at, 0, item)
  }
  return order
}

/** The order after moving item `id` to 1-based `position` (past the end: last). */
export function moveTo<T extends Placed>(queue: readonly T[], id: string, position: number): T[] {
  const order = queue.filter((i) => i.id !== id)
  const item = queue.find((i) => i.id === id)
  if (!item) return [...queue]
  order.splice(Math.min(Math.max(position, 1), order.length + 1) - 1, 0, item)
  return order
}
