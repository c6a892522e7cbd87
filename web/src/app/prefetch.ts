// A page opened by its address (a reload, a bookmark, a link) would otherwise
// ask for its data only after the session check has answered and the page has
// rendered: two round trips one after the other. At start-up the console asks
// for the session and for the list the address shows at the same time. Logged
// out, that list answers 401, which says the same as the session check.

import type { QueryClient } from '@tanstack/react-query'
import { offsetOf } from '../api/paging'
import { agentsQuery } from '../areas/agents/hooks'
import { devicesQuery } from '../areas/devices/hooks'
import { tasksQuery } from '../areas/tasks/hooks'

const LISTS: Record<string, (client: QueryClient, offset: number) => Promise<void>> = {
  '/agents': (client, offset) => client.prefetchQuery(agentsQuery(offset)),
  '/devices': (client, offset) => client.prefetchQuery(devicesQuery(offset)),
  '/tasks': (client, offset) => client.prefetchQuery(tasksQuery(offset)),
}

export function prefetchPage(client: QueryClient, location: Location): void {
  const list = LISTS[location.pathname.replace(/\/+$/, '')]
  if (list) void list(client, offsetOf(new URLSearchParams(location.search)))
}
