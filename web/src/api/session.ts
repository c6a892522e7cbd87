// Who is logged in. The console logs in with a browser session: POST
// /api/auth/session sets an HttpOnly, SameSite=Strict cookie that no script
// can read, and every later call (and WebSocket) carries it. POST
// /api/auth/logout revokes it on the server and clears it.

import { type QueryClient, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect } from 'react'
import { api, setUnauthenticatedHandler, unwrap } from './client'
import type { Me, Role } from './types'

export const sessionKey = ['session'] as const

async function fetchMe(): Promise<Me | null> {
  const result = await api.GET('/api/auth/me')
  if (result.response.status === 401) return null
  return unwrap(result)
}

/**
 * Drops everything cached but the session itself, so one user's data never shows through to the
 * next. (QueryClient.clear() would also drop the session query the app is observing.)
 */
function forgetServerData(client: QueryClient): void {
  client.removeQueries({ predicate: (q) => q.queryKey[0] !== sessionKey[0] })
}

/** The logged-in user, null when nobody is; undefined while the first answer is awaited. */
export function useSession(): { me: Me | null | undefined; error: unknown } {
  const client = useQueryClient()
  const query = useQuery({ queryKey: sessionKey, queryFn: fetchMe, staleTime: 60_000, retry: false })
  useEffect(() => {
    setUnauthenticatedHandler(() => client.setQueryData(sessionKey, null))
  }, [client])
  return { me: query.data, error: query.error }
}

export function useLogin() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (credentials: { username: string; password: string }) => {
      unwrap(await api.POST('/api/auth/session', { body: credentials }))
      return fetchMe()
    },
    onSuccess: (me) => {
      forgetServerData(client)
      client.setQueryData(sessionKey, me)
    },
  })
}

export function useLogout() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/auth/logout')),
    // Only once the server has ended the session: a failed logout stays logged in and says why.
    onSuccess: () => {
      client.setQueryData(sessionKey, null)
      forgetServerData(client)
    },
  })
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

/** Whether a role may do what needs `least` (the server decides; this only hides what it would refuse). */
export function allows(role: Role | undefined, least: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[least]
}
